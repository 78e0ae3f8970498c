// kv_write_f32 — appends this step's keys and values to one layer's KV cache at positions step.pos + t
//
// Bindings (group 0)         Shape                  Type
//   params   uniform         —                      Params { kv_dim, seq_len }
//   k        read            [n_tokens, kv_dim]     act
//   v        read            [n_tokens, kv_dim]     act
//   k_cache  read_write      [seq_len, kv_dim]      f32
//   v_cache  read_write      [seq_len, kv_dim]      f32
// Group 1: step { pos, n_tokens }. Rows past step.n_tokens (chunk padding) and past seq_len are not written.
// Dispatch: one thread per element of one token's kv row; x covers kv_dim, y = token.
// Overrides: WG_SIZE.
//! import "lib/step.wgsl"

override WG_SIZE: u32 = 64u;

struct Params {
  kv_dim: u32,
  seq_len: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> k: array<act>;
@group(0) @binding(2) var<storage, read> v: array<act>;
@group(0) @binding(3) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(4) var<storage, read_write> v_cache: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let t = gid.y;
  let pos = step.pos + t;
  if (i >= params.kv_dim || t >= step.n_tokens || pos >= params.seq_len) {
    return;
  }
  let src = t * params.kv_dim + i;
  let dst = pos * params.kv_dim + i;
  k_cache[dst] = f32(k[src]);
  v_cache[dst] = f32(v[src]);
}
