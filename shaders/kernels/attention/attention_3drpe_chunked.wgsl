// attention_3drpe_chunked — causal grouped-query attention with the released 3D-RPE code's chunked positions
// (docs/position-encoding.md): keys sit in the cache rotated at p mod chunk_len; each query is rotated three ways
// (intra / successive / inter tables) and every key is scored with the copy chosen by its chunk relative to the
// query's chunk (same → 0, previous → 1, older → 2); all scores share one softmax.
//
// Bindings (group 0)         Shape                                 Type
//   params   uniform         —                                     Params { n_heads, n_kv_heads, head_dim, rope_dim, seq_len, chunk_len, neox, scale }
//   q        read            [n_tokens, n_heads·head_dim]          act, NOT rotated
//   q_tables read            [3, seq_len, rope_dim / 2]            vec2<f32> (cos, sin) per variant and absolute position
//   k_cache  read            [seq_len, n_kv_heads·head_dim]        f32 (keys rotated at p mod chunk_len)
//   v_cache  read            [seq_len, n_kv_heads·head_dim]        f32
//   scores   read_write      [chunk, n_heads, seq_len]             f32 (scratch: one row per query head and token)
//   out      read_write      [n_tokens, n_heads·head_dim]          act
// Group 1: step { pos, n_tokens }.
// Dispatch: one workgroup per (head, token): build the three rotated queries in workgroup memory, then three passes
//   as in llama2.c (scores, softmax through workgroup reductions, Σ softmax·v). neox = 1 pairs (i, i + rope_dim/2),
//   0 pairs (2i, 2i+1). Only f32 KV caches: this is a simple, exact kernel, not a flash-decoding one.
// Overrides: WG_SIZE — power of two; MAX_HEAD_DIM — the largest head_dim it accepts (workgroup memory 3·MAX_HEAD_DIM f32).
//! import "lib/step.wgsl"
//! import "lib/reduce.wgsl"

override WG_SIZE: u32 = 64u;
override MAX_HEAD_DIM: u32 = 256u;

struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  head_dim: u32,
  rope_dim: u32,
  seq_len: u32,
  chunk_len: u32,
  neox: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<act>;
@group(0) @binding(2) var<storage, read> q_tables: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> k_cache: array<f32>;
@group(0) @binding(4) var<storage, read> v_cache: array<f32>;
@group(0) @binding(5) var<storage, read_write> scores: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<act>;

// The query rotated for variant v (0 intra, 1 successive, 2 inter) at [v·MAX_HEAD_DIM, v·MAX_HEAD_DIM + head_dim).
var<workgroup> q_rot: array<f32, 3u * MAX_HEAD_DIM>;

// Dim d of the query head at q_base rotated with the cos/sin of table row `row` (its pair partner read from q).
fn rotated(q_base: u32, d: u32, row: u32) -> f32 {
  let x = f32(q[q_base + d]);
  if (d >= params.rope_dim) {
    return x;
  }
  let half_rope = params.rope_dim / 2u;
  var i: u32;
  var first: bool;
  var partner: u32;
  if (params.neox == 1u) {
    first = d < half_rope;
    i = select(d - half_rope, d, first);
    partner = select(d - half_rope, d + half_rope, first);
  } else {
    first = (d & 1u) == 0u;
    i = d / 2u;
    partner = d ^ 1u;
  }
  let cs = q_tables[row * half_rope + i];
  let y = f32(q[q_base + partner]);
  // (x0, x1) → (x0·cos − x1·sin, x0·sin + x1·cos): the first member gets x·cos − partner·sin, the second x·cos + partner·sin.
  return select(x * cs.x + y * cs.y, x * cs.x - y * cs.y, first);
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let head = wg.x;
  let t = wg.y;
  // Every lane of the workgroup takes the same branch: t is uniform.
  if (t >= step.n_tokens) {
    return;
  }
  let pos = step.pos + t;
  let n_positions = min(pos + 1u, params.seq_len);
  let kv_dim = params.n_kv_heads * params.head_dim;
  let kv_head = head / (params.n_heads / params.n_kv_heads);
  let q_base = (t * params.n_heads + head) * params.head_dim;
  let kv_offset = kv_head * params.head_dim;
  let score_base = (t * params.n_heads + head) * params.seq_len;
  let query_chunk = pos / params.chunk_len;

  for (var d = lid; d < params.head_dim; d += WG_SIZE) {
    for (var v = 0u; v < 3u; v++) {
      q_rot[v * MAX_HEAD_DIM + d] = rotated(q_base, d, v * params.seq_len + pos);
    }
  }
  workgroupBarrier();

  var local_max = -3.0e38;
  for (var p = lid; p < n_positions; p += WG_SIZE) {
    let variant = min(query_chunk - p / params.chunk_len, 2u);
    let q_at = variant * MAX_HEAD_DIM;
    var qk = 0.0;
    for (var d = 0u; d < params.head_dim; d++) {
      qk += q_rot[q_at + d] * k_cache[p * kv_dim + kv_offset + d];
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
  // Other lanes wrote the exponentials this pass reads.
  storageBarrier();

  for (var d = lid; d < params.head_dim; d += WG_SIZE) {
    var acc = 0.0;
    for (var p = 0u; p < n_positions; p++) {
      acc += scores[score_base + p] * v_cache[p * kv_dim + kv_offset + d];
    }
    out[q_base + d] = act(acc * inv_sum);
  }
}
