// The tiled prefill GEMM body shared by every gemm_<format> kernel (see gemm_f32.wgsl's header for the scheme).
// Weights are read through unit_value from the format's lib file. Thread lid of the workgroup owns one output slot
// (lib/body/epilogue.wgsl: a row, or in glu mode the gate/up row pair, whose units are both multiplied against each
// staged activation tile) and writes it through the epilogue. The importing kernel declares
// `params { rows, cols, n_tokens }`, `x`, `out`, its weight parts and the overrides WG_SIZE and TILE_TOKENS (≤ 16).
//! import "lib/body/epilogue.wgsl"

var<workgroup> x_tile: array<f32, TILE_TOKENS * 32u>;

// acc[t] += unit `weight_unit` · staged token t, for every staged token.
fn gemm_unit_dots(weight_unit: u32, acc: ptr<function, array<f32, 16>>) {
  var w: array<f32, 32>;
  for (var i = 0u; i < 32u; i++) {
    w[i] = unit_value(weight_unit, i);
  }
  for (var t = 0u; t < TILE_TOKENS; t++) {
    var dot_unit = 0.0;
    for (var i = 0u; i < 32u; i++) {
      dot_unit += w[i] * x_tile[t * 32u + i];
    }
    (*acc)[t] += dot_unit;
  }
}

fn gemm_units(slot: u32, token0: u32, lid: u32) {
  let units_per_row = params.cols / 32u;
  let pair = epilogue_rows_per_slot();
  let live = slot < epilogue_slots(params.rows);
  let first_unit = slot * pair * units_per_row;
  var acc0: array<f32, 16>;
  var acc1: array<f32, 16>;
  for (var u = 0u; u < units_per_row; u++) {
    for (var i = lid; i < TILE_TOKENS * 32u; i += WG_SIZE) {
      let t = token0 + i / 32u;
      var value = 0.0;
      if (t < params.n_tokens) {
        value = f32(x[t * params.cols + 32u * u + i % 32u]);
      }
      x_tile[i] = value;
    }
    workgroupBarrier();
    if (live) {
      gemm_unit_dots(first_unit + u, &acc0);
      if (pair == 2u) {
        gemm_unit_dots(first_unit + units_per_row + u, &acc1);
      }
    }
    workgroupBarrier();
  }
  if (live) {
    for (var t = 0u; t < TILE_TOKENS; t++) {
      if (token0 + t < params.n_tokens) {
        epilogue_store(params.rows, params.n_tokens, token0 + t, slot, acc0[t], acc1[t]);
      }
    }
  }
}
