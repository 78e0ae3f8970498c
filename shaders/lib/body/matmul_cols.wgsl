// The decode GEMV body of the dense matmul_f32 / matmul_f16 kernels (scheme: lib/body/gemv_rows.wgsl): a slot's lanes
// stride over single columns of its row(s) (dense rows need not be whole 32-column units). The importing kernel
// declares `params { rows, cols }`, `x`, `out`, `fn weight_at(index: u32) -> f32` and the overrides WG_SIZE and
// THREADS_PER_ROW, and imports lib/reduce.wgsl.
//! import "lib/body/gemv_rows.wgsl"

fn matmul_cols(wg: vec3u, groups: vec3u, lid: u32) {
  let first_slot = gemv_first_slot(wg, groups);
  if (first_slot >= epilogue_slots(params.rows)) {
    return;
  }
  let g = gemv_lane(first_slot, lid);
  let token = wg.z;
  let pair = epilogue_rows_per_slot();
  let row_base = g.slot * pair * params.cols;
  let x_base = token * params.cols;
  var acc0 = 0.0;
  var acc1 = 0.0;
  for (var c = g.lane; c < select(0u, params.cols, g.live); c += row_lanes()) {
    let xc = f32(x[x_base + c]);
    acc0 += weight_at(row_base + c) * xc;
    if (pair == 2u) {
      acc1 += weight_at(row_base + params.cols + c) * xc;
    }
  }
  gemv_finish(g, lid, token, groups.z, acc0, acc1);
}
