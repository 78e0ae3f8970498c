// kv_write_int8 — quantizes this step's keys and values to int8 per (position, KV head) and appends them to one
// layer's int8 KV cache at positions step.pos + t
//
// Bindings (group 0)         Shape                          Type
//   params   uniform         —                              Params { n_kv_heads, head_dim, seq_len }
//   k        read            [n_tokens, n_kv_heads·head_dim]     act
//   v        read            [n_tokens, n_kv_heads·head_dim]     act
//   k_cache  read_write      [seq_len, n_kv_heads·head_dim / 4]  u32 (codes, lib/attention/kv_int8.wgsl)
//   k_scale  read_write      [seq_len, n_kv_heads]               f32
//   v_cache  read_write      [seq_len, n_kv_heads·head_dim / 4]  u32
//   v_scale  read_write      [seq_len, n_kv_heads]               f32
// Group 1: step { pos, n_tokens }. Rows past step.n_tokens (chunk padding) and past seq_len are not written.
// Rounding: d = max|x| / 127 over the head's head_dim values; q = round(x · (1/d)) (WGSL round: half to even), as
//   quantize_act_q8; an all-zero head gets d = 0 and codes 0. Both divisions are f32 (2.5 ulp in WGSL), so the CPU
//   twin can differ by one code next to a rounding edge.
// Dispatch: one thread per (token, KV head, tensor): x covers 2·n_kv_heads (k heads then v heads), y = token.
// Overrides: WG_SIZE.
//! import "lib/step.wgsl"
//! import "lib/attention/kv_int8.wgsl"

override WG_SIZE: u32 = 64u;

struct Params {
  n_kv_heads: u32,
  head_dim: u32,
  seq_len: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> k: array<act>;
@group(0) @binding(2) var<storage, read> v: array<act>;
@group(0) @binding(3) var<storage, read_write> k_cache: array<u32>;
@group(0) @binding(4) var<storage, read_write> k_scale: array<f32>;
@group(0) @binding(5) var<storage, read_write> v_cache: array<u32>;
@group(0) @binding(6) var<storage, read_write> v_scale: array<f32>;

fn k4(at: u32) -> vec4<f32> {
  return vec4<f32>(f32(k[at]), f32(k[at + 1u]), f32(k[at + 2u]), f32(k[at + 3u]));
}

fn v4(at: u32) -> vec4<f32> {
  return vec4<f32>(f32(v[at]), f32(v[at + 1u]), f32(v[at + 2u]), f32(v[at + 3u]));
}

/// Absmax scale of the head_dim values from `src` (of k or v), and 1/scale (0 for an all-zero head).
fn head_scale(is_value: bool, src: u32) -> vec2<f32> {
  var amax = vec4<f32>(0.0);
  for (var i = 0u; i < params.head_dim; i += 4u) {
    amax = max(amax, abs(select(k4(src + i), v4(src + i), is_value)));
  }
  let d = max(max(amax.x, amax.y), max(amax.z, amax.w)) / 127.0;
  return vec2<f32>(d, select(0.0, 1.0 / d, d > 0.0));
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let kv_head = gid.x % params.n_kv_heads;
  let is_value = gid.x >= params.n_kv_heads;
  let t = gid.y;
  let pos = step.pos + t;
  if (gid.x >= 2u * params.n_kv_heads || t >= step.n_tokens || pos >= params.seq_len) {
    return;
  }
  let kv_dim = params.n_kv_heads * params.head_dim;
  let src = t * kv_dim + kv_head * params.head_dim;
  let dst = pos * kv_dim + kv_head * params.head_dim;
  let scale = head_scale(is_value, src);
  for (var i = 0u; i < params.head_dim; i += 4u) {
    if (is_value) {
      v_cache[(dst + i) >> 2u] = pack_codes_i8(round(v4(src + i) * scale.y));
    } else {
      k_cache[(dst + i) >> 2u] = pack_codes_i8(round(k4(src + i) * scale.y));
    }
  }
  if (is_value) {
    v_scale[pos * params.n_kv_heads + kv_head] = scale.x;
  } else {
    k_scale[pos * params.n_kv_heads + kv_head] = scale.x;
  }
}
