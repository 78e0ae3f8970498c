// rope — rotates each head's pairs in place by the angle of pair i at the token's position, from one cos/sin table
// per position encoding (llama/rope.ts: RoPE, linear interpolation, YaRN with its mscale folded in, 3D-RPE Eq. 4).
// NEOX = 0: adjacent pairs (x[2i], x[2i+1]), GGUF `llama` (llama.cpp rope mode 0); NEOX = 1: pairs (x[i], x[i + rope_dim/2]),
// NeoX / HF rotate_half (qwen2, gpt-neox). Only the first rope_dim dims of a head rotate.
//
// Bindings (group 0)         Shape                          Type
//   params   uniform         —                              Params { n_heads, head_dim, rope_dim, max_pos }
//   cos_sin  read            [max_pos, rope_dim / 2]        vec2<f32> (cos, sin), computed once in f64 on the CPU
//   x        read_write      [n_tokens, n_heads·head_dim]   act
// Group 1: step { pos, n_tokens } — token t sits at position step.pos + t.
// Dispatch: one thread per rotated pair; x covers n_heads·rope_dim/2 pairs, y = token.
// Overrides: WG_SIZE; NEOX — pair layout (0 adjacent, 1 rotate_half).
//! import "lib/step.wgsl"

override WG_SIZE: u32 = 64u;
override NEOX: u32 = 0u;

struct Params {
  n_heads: u32,
  head_dim: u32,
  rope_dim: u32,
  max_pos: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> cos_sin: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> x: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let half_rope = params.rope_dim / 2u;
  let pair = gid.x;
  let t = gid.y;
  let pos = step.pos + t;
  if (pair >= params.n_heads * half_rope || t >= step.n_tokens || pos >= params.max_pos) {
    return;
  }
  let head = pair / half_rope;
  let i = pair % half_rope;
  // The pair's first element and the distance to its partner, per layout.
  let first = select(2u * i, i, NEOX == 1u);
  let partner = select(1u, half_rope, NEOX == 1u);
  let base = (t * params.n_heads + head) * params.head_dim + first;
  let cs = cos_sin[pos * half_rope + i];
  let x0 = f32(x[base]);
  let x1 = f32(x[base + partner]);
  x[base] = act(x0 * cs.x - x1 * cs.y);
  x[base + partner] = act(x0 * cs.y + x1 * cs.x);
}
