// The items of the matmul_dp4a_<format> kernels for lib/body/gemv_rows.wgsl: 32-element units of a row, each dotted
// with activation block token·units + u of quantize_act_q8's output by unit_dot_q8 from the format's
// lib/quant/<format>_idot.wgsl. The importing kernel declares `params { rows, cols }`, `out`, the activation and
// weight parts and the overrides WG_SIZE and THREADS_PER_ROW, imports lib/reduce.wgsl, or lib/reduce_subgroup.wgsl
// in the *_sg variants, and calls gemv_rows.
//! import "lib/body/gemv_rows.wgsl"

fn gemv_items_per_row() -> u32 {
  return params.cols / 32u;
}

fn gemv_item_dot(unit: u32, u: u32, token: u32) -> f32 {
  return unit_dot_q8(unit, token * (params.cols / 32u) + u);
}
