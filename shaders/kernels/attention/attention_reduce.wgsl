// attention_reduce — flash-decoding pass 2: merges the per-split (m, l, acc) of attention_decode_* into the output
//
// Bindings (group 0)         Shape                                 Type
//   params       uniform     —                                     Params { n_heads, head_dim, seq_len, n_splits, split_len }
//   partial_ml   read        [n_heads, n_splits, 2]                f32 (max m_s, sum l_s of split s)
//   partial_acc  read        [n_heads, n_splits, head_dim]         f32 (acc_s = Σ exp(score − m_s)·v over split s)
//   out          read_write  [1, n_heads·head_dim]                 act
// Group 1: step { pos, n_tokens }; only the first ceil((pos + 1) / split_len) splits hold keys (the rest were
//   skipped by pass 1 and hold stale values, never read).
// Math: M = max_s m_s; out = Σ_s exp(m_s − M)·acc_s / Σ_s exp(m_s − M)·l_s — the softmax over all keys, exactly.
// Dispatch: workgroups [n_heads]; lanes cover head_dim.
// Overrides: WG_SIZE.
//! import "lib/step.wgsl"

override WG_SIZE: u32 = 64u;

struct Params {
  n_heads: u32,
  head_dim: u32,
  seq_len: u32,
  n_splits: u32,
  split_len: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partial_ml: array<f32>;
@group(0) @binding(2) var<storage, read> partial_acc: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let head = wg.x;
  let n_positions = min(step.pos + 1u, params.seq_len);
  let n_active = min((n_positions + params.split_len - 1u) / params.split_len, params.n_splits);
  let first_slot = head * params.n_splits;
  var m_max = -3.0e38;
  for (var s = 0u; s < n_active; s++) {
    m_max = max(m_max, partial_ml[2u * (first_slot + s)]);
  }
  var denom = 0.0;
  for (var s = 0u; s < n_active; s++) {
    denom += exp(partial_ml[2u * (first_slot + s)] - m_max) * partial_ml[2u * (first_slot + s) + 1u];
  }
  for (var d = lid; d < params.head_dim; d += WG_SIZE) {
    var sum = 0.0;
    for (var s = 0u; s < n_active; s++) {
      sum += exp(partial_ml[2u * (first_slot + s)] - m_max) * partial_acc[(first_slot + s) * params.head_dim + d];
    }
    out[head * params.head_dim + d] = act(sum / denom);
  }
}
