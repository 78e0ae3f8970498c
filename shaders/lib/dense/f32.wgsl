// Dense f32 weights seen as 32-element units along each row (the shape the tiled GEMM reads every format in).
// The importing kernel declares `weight: array<f32>`; cols is a multiple of 32 for the GEMM path.
fn unit_value(unit: u32, i: u32) -> f32 {
  return weight[unit * 32u + i];
}
