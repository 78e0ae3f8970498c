// Dense f16 weights (packed pairs in u32) seen as 32-element units along each row. The importing kernel declares
// `weight: array<u32>`; cols is a multiple of 32 for the GEMM path.
//! import "lib/f16_pairs.wgsl"

fn unit_value(unit: u32, i: u32) -> f32 {
  return f16_at(&weight, unit * 32u + i);
}
