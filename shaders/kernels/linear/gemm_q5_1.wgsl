// gemm_q5_1 — Y = X · Wᵀ for a prefill chunk: out[t, r] = W[r] · x[t], W [rows, cols] in Q5_1, tiled so that each
// weight unit is decoded once per TILE_TOKENS tokens and each activation tile is loaded once per WG_SIZE rows
//
// Bindings (group 0)         Shape               Type
//   params   uniform         —                   Params { rows, cols, n_tokens }
//   x        read            [n_tokens, cols]    act
//   qs       read            [rows, cols] as Q5_1 parts (see lib/quant/q5_1.wgsl)
//   qh       read            [rows, cols] as Q5_1 parts (see lib/quant/q5_1.wgsl)
//   dm       read            [rows, cols] as Q5_1 parts (see lib/quant/q5_1.wgsl)
//   out      read_write      [n_tokens, rows]    act (laid out by the epilogue)
// Dispatch: x = ceil(slots / WG_SIZE), y = ceil(n_tokens / TILE_TOKENS) (slots: rows, or rows/2 gate/up pairs in glu
//   mode, lib/body/epilogue.wgsl). Thread lid owns slot x·WG_SIZE + lid and
//   TILE_TOKENS accumulators; per 32-column unit the workgroup stages x[tokens, 32] in workgroup memory, each thread
//   decodes its row's unit into registers once and multiplies it against every staged token. cols % 32 == 0.
// Overrides: WG_SIZE (slots per workgroup), TILE_TOKENS (≤ 16), EPILOGUE, SPLIT_A, SPLIT_B (lib/body/epilogue.wgsl).
//! import "lib/quant/q5_1.wgsl"
//! import "lib/body/gemm_units.wgsl"

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

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  gemm_units(wg.x * WG_SIZE + lid, wg.y * TILE_TOKENS, lid);
}
