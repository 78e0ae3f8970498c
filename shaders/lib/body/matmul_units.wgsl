// The decode GEMV body shared by every matmul_<format> kernel: one workgroup per (row, token), each thread takes
// 32-element units of the row in turn (unit_dot from the format's lib/quant/<format>_dot.wgsl), then a workgroup
// sum. The importing kernel declares `params { rows, cols }`, `x`, `out`, its weight parts and `override WG_SIZE`,
// and imports the workgroup_sum it reduces with: lib/reduce.wgsl, or lib/reduce_subgroup.wgsl in the *_sg variants.

fn matmul_units(row: u32, token: u32, lid: u32) {
  let units_per_row = params.cols / 32u;
  var acc = 0.0;
  for (var u = lid; u < units_per_row; u += WG_SIZE) {
    acc += unit_dot(row * units_per_row + u, token * params.cols + 32u * u);
  }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) {
    out[token * params.rows + row] = act(total);
  }
}
