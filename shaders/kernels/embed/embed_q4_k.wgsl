// embed_q4_k — out[t] = table[tokens[t]]: gathers and dequantizes one embedding row per token from a Q4_K table
//
// Bindings (group 0)         Shape               Type
//   params   uniform         —                   Params { dim, vocab_size }
//   tokens   read            [n_tokens]          u32
//   qs       read            (see lib/quant/q4_k.wgsl) u32
//   scales   read            (see lib/quant/q4_k.wgsl) u32
//   dm       read            (see lib/quant/q4_k.wgsl) u32
//   out      read_write      [n_tokens, dim]     act
// Dispatch: x covers dim in WG_SIZE steps, y = token. Out-of-range ids produce zeros (the runtime validates ids
//   before they reach the GPU). dim is a multiple of 32 (256 for K-quants).
// Overrides: WG_SIZE.
//! import "lib/quant/q4_k.wgsl"
//! import "lib/body/embed_units.wgsl"

override WG_SIZE: u32 = 64u;

struct Params {
  dim: u32,
  vocab_size: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read> qs: array<u32>;
@group(0) @binding(3) var<storage, read> scales: array<u32>;
@group(0) @binding(4) var<storage, read> dm: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  embed_units(gid.x, gid.y);
}
