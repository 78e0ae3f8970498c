// attention_prefill_f16 — tiled causal attention of a prefill chunk's queries over a f16 KV cache, one dispatch per layer
//
// Bindings (group 0)         Shape                                 Type
//   params       uniform     —                                     Params { n_heads, n_kv_heads, head_dim, seq_len, scale }
//   q            read        [n_tokens, n_heads·head_dim]          act
//   k_cache      read        [seq_len, n_kv_heads·head_dim / 2]    u32 (f16 pairs, lib/attention/kv_f16.wgsl)
//   v_cache      read        [seq_len, n_kv_heads·head_dim / 2]    u32
//   out          read_write  [n_tokens, n_heads·head_dim]          act
// Group 1: step { pos, n_tokens }; token t sits at step.pos + t and sees keys 0 ..= step.pos + t (already written
//   by kv_write_f16 for this chunk).
// Dispatch: workgroups [n_heads, ceil(n_tokens / WG_SIZE)]; one lane per query. Query head h reads KV head
//   h / (n_heads / n_kv_heads). Body: lib/attention/prefill_tiled.wgsl.
// Overrides: WG_SIZE — queries per workgroup.
//! import "lib/attention/kv_f16.wgsl"
//! import "lib/attention/prefill_tiled.wgsl"

override WG_SIZE: u32 = 32u;

struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  head_dim: u32,
  seq_len: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<act>;
@group(0) @binding(2) var<storage, read> k_cache: array<u32>;
@group(0) @binding(3) var<storage, read> v_cache: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  prefill_tiled(wg.x, wg.y, lid);
}
