// The decode GEMV body shared by every matmul_<format> kernel (scheme: lib/body/gemv_rows.wgsl): a slot's lanes take
// 32-element units of its row(s) in turn (unit_dot from the format's lib/quant/<format>_dot.wgsl). The importing
// kernel declares `params { rows, cols }`, `x`, `out`, its weight parts and the overrides WG_SIZE and THREADS_PER_ROW,
// and imports lib/reduce.wgsl, or lib/reduce_subgroup.wgsl in the *_sg variants.
//! import "lib/body/gemv_rows.wgsl"

fn matmul_units(wg: vec3u, groups: vec3u, lid: u32) {
  let first_slot = gemv_first_slot(wg, groups);
  if (first_slot >= epilogue_slots(params.rows)) {
    return;
  }
  let g = gemv_lane(first_slot, lid);
  let token = wg.z;
  let pair = epilogue_rows_per_slot();
  let units_per_row = params.cols / 32u;
  let first_unit = g.slot * pair * units_per_row;
  var acc0 = 0.0;
  var acc1 = 0.0;
  for (var u = g.lane; u < select(0u, units_per_row, g.live); u += row_lanes()) {
    let x_offset = token * params.cols + 32u * u;
    acc0 += unit_dot(first_unit + u, x_offset);
    if (pair == 2u) {
      acc1 += unit_dot(first_unit + units_per_row + u, x_offset);
    }
  }
  gemv_finish(g, lid, token, groups.z, acc0, acc1);
}
