// Flash-decoding, pass 1 (split): the one query of a decode step attends to one split of the KV cache.
// The cache's positions 0 .. n_positions are cut into n_splits ranges of split_len positions (fixed at load from
// seq_len, so the plan never changes); the workgroup of (split, head) walks its range in tiles of WG_SIZE positions
// with an online softmax (running max m, running sum l, running weighted sum of V acc) and writes (m, l, acc) for
// the reduce pass. Splits that start past the current position return at once, so the work per token grows with
// the position, not with seq_len.
// Needs from the importing kernel: override WG_SIZE (power of two, ≥ head_dim / 4); params { n_heads, n_kv_heads,
// head_dim, n_splits, split_len, scale, seq_len }; bindings q, partial_ml, partial_acc; key4 / value4
// (lib/attention/kv_*.wgsl). head_dim % 4 == 0 and head_dim ≤ 4·WG_SIZE (checked by ops.ts).
//! import "lib/step.wgsl"
//! import "lib/reduce.wgsl"

/// Largest head_dim / 4 the workgroup tile of q holds (head_dim ≤ 256).
const MAX_HEAD_VEC4: u32 = 64u;

var<workgroup> q_scaled: array<vec4<f32>, MAX_HEAD_VEC4>;
var<workgroup> tile_weights: array<f32, WG_SIZE>;

/// Scores below this mean "no key": finite, so max() and exp(s − m) never meet inf − inf.
const NO_SCORE: f32 = -3.0e38;

fn decode_split(split: u32, head: u32, lid: u32) {
  // Keys 0 ..= step.pos: the decode step's one token sits at step.pos.
  let n_positions = min(step.pos + 1u, params.seq_len);
  let first = split * params.split_len;
  if (first >= n_positions) {
    return;
  }
  let last = min(first + params.split_len, n_positions);
  let head_vec4 = params.head_dim / 4u;
  let kv_dim = params.n_kv_heads * params.head_dim;
  let kv_head = head / (params.n_heads / params.n_kv_heads);
  let kv_offset = kv_head * params.head_dim;
  let q_base = head * params.head_dim;
  for (var i = lid; i < head_vec4; i += WG_SIZE) {
    let at = q_base + 4u * i;
    q_scaled[i] = vec4<f32>(f32(q[at]), f32(q[at + 1u]), f32(q[at + 2u]), f32(q[at + 3u])) * params.scale;
  }
  workgroupBarrier();

  var m = NO_SCORE;
  var l = 0.0;
  var acc = vec4<f32>(0.0); // lane lid owns dims 4·lid .. 4·lid+3 of the output (lid < head_vec4)
  for (var tile = first; tile < last; tile += WG_SIZE) {
    let p = tile + lid;
    var s = NO_SCORE;
    if (p < last) {
      let k_base = p * kv_dim + kv_offset;
      var qk = 0.0;
      for (var i = 0u; i < head_vec4; i++) {
        qk += dot(q_scaled[i], key4(k_base + 4u * i));
      }
      s = qk;
    }
    let m_new = max(m, workgroup_max(lid, s));
    let w = select(0.0, exp(s - m_new), p < last);
    tile_weights[lid] = w;
    // workgroup_sum's barrier also publishes tile_weights to every lane.
    let l_tile = workgroup_sum(lid, w);
    let rescale = exp(m - m_new);
    l = l * rescale + l_tile;
    m = m_new;
    if (lid < head_vec4) {
      var a = acc * rescale;
      let n = min(WG_SIZE, last - tile);
      for (var j = 0u; j < n; j++) {
        a += tile_weights[j] * value4((tile + j) * kv_dim + kv_offset + 4u * lid);
      }
      acc = a;
    }
    // tile_weights is rewritten by the next tile.
    workgroupBarrier();
  }

  let slot = head * params.n_splits + split;
  if (lid == 0u) {
    partial_ml[2u * slot] = m;
    partial_ml[2u * slot + 1u] = l;
  }
  if (lid < head_vec4) {
    let at = slot * params.head_dim + 4u * lid;
    partial_acc[at] = acc.x;
    partial_acc[at + 1u] = acc.y;
    partial_acc[at + 2u] = acc.z;
    partial_acc[at + 3u] = acc.w;
  }
}
