// gemm_dp4a_q4_k — Y = X · Wᵀ for a prefill chunk with int8 activations: out[t, r] = W[r] · x[t], W [rows, cols] in
// Q4_K (super-blocks of 256: 8 sub-blocks with 6-bit scales and mins), x quantized to int8 per block of 32 (quantize_act_q8):
// d·sc·d_x·Σ(nib·q_x) − dmin·m·s_x per sub-block of 32,
// integer sums with dot4I8Packed, tiled so that each weight unit is decoded once per TILE_TOKENS tokens
//
// Bindings (group 0)         Shape               Type
//   params   uniform         —                   Params { rows, cols, n_tokens }
//   xq       read            [n_tokens, cols/4]  u32 (see lib/quant/q8_act.wgsl)
//   xd       read            [n_tokens, cols/32] f32
//   xs       read            [n_tokens, cols/32] f32
//   qs       read            (see lib/quant/q4_k.wgsl) u32
//   scales   read            (see lib/quant/q4_k.wgsl) u32
//   dm       read            (see lib/quant/q4_k.wgsl) u32
//   out      read_write      [n_tokens, rows]    act (laid out by the epilogue)
// Dispatch: x = ceil(slots / WG_SIZE), y = ceil(n_tokens / TILE_TOKENS) (slots: rows, or rows/2 gate/up pairs in glu
//   mode, lib/body/epilogue.wgsl). Thread lid owns slot x·WG_SIZE + lid and
//   TILE_TOKENS accumulators; per 32-column unit the workgroup stages the tokens' int8 blocks in workgroup memory,
//   each thread decodes its row's unit into packed int8 words once and dots it with every staged token
//   (lib/body/gemm_units_q8.wgsl). cols is a multiple of 32 (256 for Q4_K).
// Needs the WGSL language feature packed_4x8_integer_dot_product (see matmul_dp4a_q8_0.wgsl on `requires`).
// Overrides: WG_SIZE (slots per workgroup), TILE_TOKENS (≤ 16), EPILOGUE, SPLIT_A, SPLIT_B (lib/body/epilogue.wgsl).
//! import "lib/quant/q4_k_idot.wgsl"
//! import "lib/body/gemm_units_q8.wgsl"

override WG_SIZE: u32 = 64u;
override TILE_TOKENS: u32 = 8u;

struct Params {
  rows: u32,
  cols: u32,
  n_tokens: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> xq: array<u32>;
@group(0) @binding(2) var<storage, read> xd: array<f32>;
@group(0) @binding(3) var<storage, read> xs: array<f32>;
@group(0) @binding(4) var<storage, read> qs: array<u32>;
@group(0) @binding(5) var<storage, read> scales: array<u32>;
@group(0) @binding(6) var<storage, read> dm: array<u32>;
@group(0) @binding(7) var<storage, read_write> out: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  gemm_units_q8(wg.x * WG_SIZE + lid, wg.y * TILE_TOKENS, lid);
}
