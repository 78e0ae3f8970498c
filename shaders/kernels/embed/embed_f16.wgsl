// embed_f16 — out[t] = table[tokens[t]]: gathers one embedding row per token from a f16 table
//
// Bindings (group 0)         Shape               Type
//   params   uniform         —                   Params { dim, vocab_size }
//   tokens   read            [n_tokens]          u32
//   table    read            [vocab_size, dim]   u32 (f16 pairs)
//   out      read_write      [n_tokens, dim]     act
// Dispatch: x covers dim in WG_SIZE steps, y = token. Out-of-range ids produce zeros rather than reading
//   outside the table (the runtime validates ids before they reach the GPU; this is the last line of defence).
// Overrides: WG_SIZE.
//! import "lib/f16_pairs.wgsl"

override WG_SIZE: u32 = 64u;

struct Params {
  dim: u32,
  vocab_size: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let d = gid.x;
  let t = gid.y;
  if (d >= params.dim) {
    return;
  }
  let id = tokens[t];
  var value = 0.0;
  if (id < params.vocab_size) {
    let row_base = id * params.dim;
    value = f16_at(&table, row_base + d);
  }
  out[t * params.dim + d] = act(value);
}
