// gemm_q5_1 — Y = X · Wᵀ for a prefill chunk: out[t, r] = W[r] · x[t], W [rows, cols] in Q5_1, tiled so that each
// weight unit is decoded once per TILE_TOKENS tokens and each activation tile is loaded once per WG_SIZE rows
//
// Bindings (group 0)         Shape               Type
//   params   uniform         —                   Params { rows, cols, n_tokens }
//   x        read            [n_tokens, cols]    act
//   qs       read            [rows, cols] as Q5_1 parts (see lib/quant/q5_1.wgsl)
//   qh       read            [rows, cols] as Q5_1 parts (see lib/quant/q5_1.wgsl)
//   dm       read            [rows, cols] as Q5_1 parts (see lib/quant/q5_1.wgsl)
//   out      read_write      [n_tokens, rows]    act
// Dispatch: x = ceil(rows / WG_SIZE), y = ceil(n_tokens / TILE_TOKENS). Thread lid owns row x·WG_SIZE + lid and
//   TILE_TOKENS accumulators; per 32-column unit the workgroup stages x[tokens, 32] in workgroup memory, each thread
//   decodes its row's unit into registers once and multiplies it against every staged token. cols % 32 == 0.
// Overrides: WG_SIZE (rows per workgroup), TILE_TOKENS (≤ 16).
//! import "lib/quant/q5_1.wgsl"

override WG_SIZE: u32 = 64u;
override TILE_TOKENS: u32 = 8u;

struct Params {
  rows: u32,
  cols: u32,
  n_tokens: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read> qs: array<u32>;
@group(0) @binding(3) var<storage, read> qh: array<u32>;
@group(0) @binding(4) var<storage, read> dm: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<act>;

var<workgroup> x_tile: array<f32, TILE_TOKENS * 32u>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x * WG_SIZE + lid;
  let token0 = wg.y * TILE_TOKENS;
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
