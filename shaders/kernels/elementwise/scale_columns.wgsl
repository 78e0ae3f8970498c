// scale_columns — out[t, j] = x[t, j] · scale[j]: a SINQ linear's own copy of its input scaled by its per-input-column
//   t (methods.md §2.1, eq. 7: x·Wᵀ = (x ⊙ t)·[s(Q − z)]ᵀ), before that copy's T-MAC tables are built
//
// Bindings (group 0)         Shape                 Type
//   params   uniform         —                     Params { cols, n }  (n = n_tokens · cols)
//   scale    read            [cols]                f32
//   x        read            [n_tokens, cols]      act
//   out      read_write      [n_tokens, cols]      act
// Dispatch: one thread per element, ceil(n / WG_SIZE) workgroups. The product is formed in f32 and rounded once to
//   act. Out of place: each linear has its own t (the paper's setting), and the other readers of x still need x.
// Overrides: WG_SIZE.

override WG_SIZE: u32 = 64u;

struct Params {
  cols: u32,
  n: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> scale: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<act>;
@group(0) @binding(3) var<storage, read_write> out: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i < params.n) {
    out[i] = act(f32(x[i]) * scale[i % params.cols]);
  }
}
