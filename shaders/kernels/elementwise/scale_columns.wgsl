// scale_columns — x[t, j] *= scale[j] in place: SINQ's per-input-column scale t applied once to a linear's input
//   (methods.md §2.1, eq. 7: x·Wᵀ = (x ⊙ t)·[s(Q − z)]ᵀ), before the input's T-MAC tables or int8 codes are built
//
// Bindings (group 0)         Shape                 Type
//   params   uniform         —                     Params { cols, n }  (n = n_tokens · cols)
//   scale    read            [cols]                f32
//   x        read_write      [n_tokens, cols]      act
// Dispatch: one thread per element, ceil(n / WG_SIZE) workgroups. The product is formed in f32 and rounded once to
//   act. In place: every linear reading this input carries the same t (the loader checks it), so no copy is needed.
// Overrides: WG_SIZE.

override WG_SIZE: u32 = 64u;

struct Params {
  cols: u32,
  n: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> scale: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i < params.n) {
    x[i] = act(f32(x[i]) * scale[i % params.cols]);
  }
}
