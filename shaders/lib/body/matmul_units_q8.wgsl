// The int8 decode GEMV body shared by every matmul_dp4a_<format> kernel: one workgroup per (row, token), each
// thread takes 32-element units of the row in turn (unit_dot_q8 from the format's lib/quant/<format>_idot.wgsl,
// against activation block token·units + u of quantize_act_q8's output), then a workgroup sum. The importing kernel
// declares `params { rows, cols }`, `out`, the activation and weight parts and `override WG_SIZE`, and imports the
// workgroup_sum it reduces with: lib/reduce.wgsl, or lib/reduce_subgroup.wgsl in the *_sg variants.

fn matmul_units_q8(row: u32, token: u32, lid: u32) {
  let units_per_row = params.cols / 32u;
  var acc = 0.0;
  for (var u = lid; u < units_per_row; u += WG_SIZE) {
    acc += unit_dot_q8(row * units_per_row + u, token * units_per_row + u);
  }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) {
    out[token * params.rows + row] = act(total);
  }
}
