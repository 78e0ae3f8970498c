// The decode GEMV body of the dense matmul_f32 / matmul_f16 kernels: one workgroup per (output slot, token), WG_SIZE
// threads stride over cols (any width: dense rows need not be whole 32-column units), then a workgroup sum per row
// and the epilogue (lib/body/epilogue.wgsl; in glu mode a slot is a gate/up row pair). The importing kernel declares
// `params { rows, cols }`, `x`, `out`, `fn weight_at(index: u32) -> f32` and `override WG_SIZE`, and imports
// lib/reduce.wgsl. Dispatch: slot = x + y·(x-count), token = z, n_tokens = z-count.
//! import "lib/body/epilogue.wgsl"

fn matmul_cols(wg: vec3u, groups: vec3u, lid: u32) {
  let slot = wg.x + wg.y * groups.x;
  if (slot >= epilogue_slots(params.rows)) {
    return;
  }
  let token = wg.z;
  let pair = epilogue_rows_per_slot();
  let row_base = slot * pair * params.cols;
  let x_base = token * params.cols;
  var acc0 = 0.0;
  var acc1 = 0.0;
  for (var c = lid; c < params.cols; c += WG_SIZE) {
    let xc = f32(x[x_base + c]);
    acc0 += weight_at(row_base + c) * xc;
    if (pair == 2u) {
      acc1 += weight_at(row_base + params.cols + c) * xc;
    }
  }
  let y0 = workgroup_sum(lid, acc0);
  var y1 = 0.0;
  if (pair == 2u) {
    y1 = workgroup_sum(lid, acc1);
  }
  if (lid == 0u) {
    epilogue_store(params.rows, groups.z, token, slot, y0, y1);
  }
}
