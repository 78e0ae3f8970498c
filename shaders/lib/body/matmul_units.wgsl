// The items of the matmul_<format> kernels for lib/body/gemv_rows.wgsl: 32-element units of a row (a block, or a
// K-quant sub-block), each dotted with act activations by unit_dot from the format's lib/quant/<format>_dot.wgsl.
// The importing kernel declares `params { rows, cols }` (cols a multiple of 32), `x`, `out`, its weight parts and the
// overrides WG_SIZE and THREADS_PER_ROW, imports lib/reduce.wgsl, or lib/reduce_subgroup.wgsl in the *_sg variants,
// and calls gemv_rows.
//! import "lib/body/gemv_rows.wgsl"

fn gemv_items_per_row() -> u32 {
  return params.cols / 32u;
}

fn gemv_item_dot(unit: u32, u: u32, token: u32) -> f32 {
  return unit_dot(unit, token * params.cols + 32u * u);
}
