// attention — causal grouped-query attention of this step's queries over the KV cache (positions 0 ..= pos + t)
//
// Bindings (group 0)         Shape                                 Type
//   params   uniform         —                                     Params { n_heads, n_kv_heads, head_dim, seq_len, scale }
//   q        read            [n_tokens, n_heads·head_dim]          act
//   k_cache  read            [seq_len, n_kv_heads·head_dim]        f32
//   v_cache  read            [seq_len, n_kv_heads·head_dim]        f32
//   scores   read_write      [chunk, n_heads, seq_len]             f32 (scratch: one row per query head and token)
//   out      read_write      [n_tokens, n_heads·head_dim]          act
// Group 1: step { pos, n_tokens }.
// Dispatch: one workgroup per (head, token). Three passes as in llama2.c: scores q·k·scale, softmax (max, exp,
//   sum through workgroup reductions), then out = Σ softmax·v. Query head h reads KV head h / (n_heads / n_kv_heads).
// Overrides: WG_SIZE — power of two.
//! import "lib/step.wgsl"
//! import "lib/reduce.wgsl"

override WG_SIZE: u32 = 64u;

struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  head_dim: u32,
  seq_len: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<act>;
@group(0) @binding(2) var<storage, read> k_cache: array<f32>;
@group(0) @binding(3) var<storage, read> v_cache: array<f32>;
@group(0) @binding(4) var<storage, read_write> scores: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let head = wg.x;
  let t = wg.y;
  if (t >= step.n_tokens) {
    return;
  }
  let n_positions = min(step.pos + t + 1u, params.seq_len);
  let kv_dim = params.n_kv_heads * params.head_dim;
  let kv_head = head / (params.n_heads / params.n_kv_heads);
  let q_base = (t * params.n_heads + head) * params.head_dim;
  let kv_offset = kv_head * params.head_dim;
  let score_base = (t * params.n_heads + head) * params.seq_len;

  var local_max = -3.0e38;
  for (var p = lid; p < n_positions; p += WG_SIZE) {
    var qk = 0.0;
    for (var d = 0u; d < params.head_dim; d++) {
      qk += f32(q[q_base + d]) * k_cache[p * kv_dim + kv_offset + d];
    }
    let s = qk * params.scale;
    scores[score_base + p] = s;
    local_max = max(local_max, s);
  }
  let row_max = workgroup_max(lid, local_max);

  var local_sum = 0.0;
  for (var p = lid; p < n_positions; p += WG_SIZE) {
    let e = exp(scores[score_base + p] - row_max);
    scores[score_base + p] = e;
    local_sum += e;
  }
  let inv_sum = 1.0 / workgroup_sum(lid, local_sum);
  // Other threads wrote the exponentials this pass reads.
  storageBarrier();

  for (var d = lid; d < params.head_dim; d += WG_SIZE) {
    var acc = 0.0;
    for (var p = 0u; p < n_positions; p++) {
      acc += scores[score_base + p] * v_cache[p * kv_dim + kv_offset + d];
    }
    out[q_base + d] = act(acc * inv_sum);
  }
}
