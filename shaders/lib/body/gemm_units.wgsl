// The tiled prefill GEMM body shared by every gemm_<format> kernel (see gemm_f32.wgsl's header for the scheme).
// Weights are read through unit_value from the format's lib file. The importing kernel declares
// `params { rows, cols, n_tokens }`, `x`, `out`, its weight parts and the overrides WG_SIZE and TILE_TOKENS.

var<workgroup> x_tile: array<f32, TILE_TOKENS * 32u>;

fn gemm_units(row: u32, token0: u32, lid: u32) {
  let units_per_row = params.cols / 32u;
  var acc: array<f32, 16>;
  var w: array<f32, 32>;
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
    if (row < params.rows) {
      for (var i = 0u; i < 32u; i++) {
        w[i] = unit_value(row * units_per_row + u, i);
      }
      for (var t = 0u; t < TILE_TOKENS; t++) {
        var dot_unit = 0.0;
        for (var i = 0u; i < 32u; i++) {
          dot_unit += w[i] * x_tile[t * 32u + i];
        }
        acc[t] += dot_unit;
      }
    }
    workgroupBarrier();
  }
  if (row < params.rows) {
    for (var t = 0u; t < TILE_TOKENS; t++) {
      if (token0 + t < params.n_tokens) {
        out[(token0 + t) * params.rows + row] = act(acc[t]);
      }
    }
  }
}
