// The items of the dense matmul_f32 / matmul_f16 kernels for lib/body/gemv_rows.wgsl: single columns (dense rows
// need not be whole 32-column units). The importing kernel declares `params { rows, cols }`, `x`, `out`,
// `fn weight_at(index: u32) -> f32` and the overrides WG_SIZE and THREADS_PER_ROW, imports lib/reduce.wgsl, and calls
// gemv_rows.
//! import "lib/body/gemv_rows.wgsl"

fn gemv_items_per_row() -> u32 {
  return params.cols;
}

fn gemv_item_dot(index: u32, c: u32, token: u32) -> f32 {
  return weight_at(index) * f32(x[token * params.cols + c]);
}
