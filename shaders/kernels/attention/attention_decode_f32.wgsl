// attention_decode_f32 — flash-decoding pass 1: one decode query per head against one split of a f32 KV cache
//
// Bindings (group 0)         Shape                                 Type
//   params       uniform     —                                     Params { n_heads, n_kv_heads, head_dim, seq_len, n_splits, split_len, scale }
//   q            read        [1, n_heads·head_dim]                 act
//   k_cache      read        [seq_len, n_kv_heads·head_dim]        f32
//   v_cache      read        [seq_len, n_kv_heads·head_dim]        f32
//   partial_ml   read_write  [n_heads, n_splits, 2]                f32 (running max m, running sum l of each split)
//   partial_acc  read_write  [n_heads, n_splits, head_dim]         f32 (Σ exp(s − m)·v of each split)
// Group 1: step { pos, n_tokens }; the one query sits at step.pos and sees keys 0 ..= step.pos.
// Dispatch: workgroups [n_splits, n_heads]; splits starting past step.pos write nothing (attention_reduce reads only
//   the first ceil((pos + 1) / split_len)). Query head h reads KV head h / (n_heads / n_kv_heads).
// Body: lib/attention/decode_split.wgsl. Overrides: WG_SIZE — power of two, ≥ head_dim / 4.
//! import "lib/attention/kv_f32.wgsl"
//! import "lib/attention/decode_split.wgsl"

override WG_SIZE: u32 = 64u;

struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  head_dim: u32,
  seq_len: u32,
  n_splits: u32,
  split_len: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<act>;
@group(0) @binding(2) var<storage, read> k_cache: array<f32>;
@group(0) @binding(3) var<storage, read> v_cache: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial_ml: array<f32>;
@group(0) @binding(5) var<storage, read_write> partial_acc: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  decode_split(wg.x, wg.y, lid);
}
