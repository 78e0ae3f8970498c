// Tiled causal attention for a prefill chunk: the chunk's queries (positions step.pos .. step.pos + n_tokens) over
// keys 0 ..= their own position, in one dispatch. A workgroup holds WG_SIZE consecutive queries of one head, one
// query per lane (q and the running output in registers); all lanes load a tile of KEY_TILE keys and values into
// workgroup memory together, then every lane scores its query against the tile and folds it into its online
// softmax (running max m, sum l, weighted sum acc), so each key and value is read from the cache once per
// WG_SIZE queries instead of once per query.
// Needs from the importing kernel: override WG_SIZE; params { n_heads, n_kv_heads, head_dim, seq_len, scale };
// bindings q, out; key4 / value4 (lib/attention/kv_*.wgsl). head_dim % 4 == 0 and head_dim ≤ 4·MAX_HEAD_VEC4
// (checked by ops.ts).
//! import "lib/step.wgsl"

/// Keys per workgroup tile; K and V tiles take 2 · KEY_TILE · head_dim · 4 bytes (8 KiB at head_dim 128).
const KEY_TILE: u32 = 8u;
/// Largest head_dim / 4 a lane holds in registers (head_dim ≤ 128).
const MAX_HEAD_VEC4: u32 = 32u;

var<workgroup> k_tile: array<vec4<f32>, KEY_TILE * MAX_HEAD_VEC4>;
var<workgroup> v_tile: array<vec4<f32>, KEY_TILE * MAX_HEAD_VEC4>;

/// Scores below this mean "masked": finite, so max() and exp(s − m) never meet inf − inf.
const MASKED: f32 = -3.0e38;

fn prefill_tiled(head: u32, query_block: u32, lid: u32) {
  let t = query_block * WG_SIZE + lid;
  let is_query = (t < step.n_tokens);
  let my_last_key = step.pos + t;           // causal: query t sees keys 0 ..= step.pos + t
  // Keys the block needs: up to its last query's position (uniform across the workgroup).
  let block_tokens = min(step.n_tokens, (query_block + 1u) * WG_SIZE);
  let n_keys = min(step.pos + block_tokens, params.seq_len);
  let head_vec4 = params.head_dim / 4u;
  let kv_dim = params.n_kv_heads * params.head_dim;
  let kv_offset = (head / (params.n_heads / params.n_kv_heads)) * params.head_dim;
  let q_base = (t * params.n_heads + head) * params.head_dim;

  var q_scaled: array<vec4<f32>, MAX_HEAD_VEC4>;
  var acc: array<vec4<f32>, MAX_HEAD_VEC4>;
  if (is_query) {
    for (var i = 0u; i < head_vec4; i++) {
      let at = q_base + 4u * i;
      q_scaled[i] = vec4<f32>(f32(q[at]), f32(q[at + 1u]), f32(q[at + 2u]), f32(q[at + 3u])) * params.scale;
      acc[i] = vec4<f32>(0.0);
    }
  }
  var m = MASKED;
  var l = 0.0;

  for (var tile = 0u; tile < n_keys; tile += KEY_TILE) {
    let tile_keys = min(KEY_TILE, n_keys - tile);
    for (var i = lid; i < tile_keys * head_vec4; i += WG_SIZE) {
      let j = i / head_vec4;
      let e = (tile + j) * kv_dim + kv_offset + 4u * (i % head_vec4);
      k_tile[i] = key4(e);
      v_tile[i] = value4(e);
    }
    workgroupBarrier();
    if (is_query) {
      var s: array<f32, KEY_TILE>;
      var tile_max = MASKED;
      for (var j = 0u; j < tile_keys; j++) {
        s[j] = MASKED;
        if (tile + j <= my_last_key) {
          var qk = 0.0;
          for (var i = 0u; i < head_vec4; i++) {
            qk += dot(q_scaled[i], k_tile[j * head_vec4 + i]);
          }
          s[j] = qk;
          tile_max = max(tile_max, qk);
        }
      }
      let m_new = max(m, tile_max);
      let rescale = exp(m - m_new);
      l *= rescale;
      for (var i = 0u; i < head_vec4; i++) {
        acc[i] *= rescale;
      }
      for (var j = 0u; j < tile_keys; j++) {
        if (tile + j <= my_last_key) {
          let w = exp(s[j] - m_new);
          l += w;
          for (var i = 0u; i < head_vec4; i++) {
            acc[i] += w * v_tile[j * head_vec4 + i];
          }
        }
      }
      m = m_new;
    }
    // The next tile overwrites k_tile / v_tile.
    workgroupBarrier();
  }

  if (is_query) {
    let inv_l = 1.0 / l;
    for (var i = 0u; i < head_vec4; i++) {
      let o = acc[i] * inv_l;
      let at = q_base + 4u * i;
      out[at] = act(o.x);
      out[at + 1u] = act(o.y);
      out[at + 2u] = act(o.z);
      out[at + 3u] = act(o.w);
    }
  }
}
