// rms_norm_last — out[0] = rms_norm(x[n_tokens − 1]) · weight: the final norm of the step's last token only, so a
// prefill chunk that needs only the next token's logits runs the output projection on one row instead of all
//
// Bindings (group 0)         Shape              Type
//   params   uniform         —                  Params { dim, eps }
//   x        read            [chunk, dim]       act
//   weight   read            [dim]              f32
//   out      read_write      [1, dim]           act
// Group 1: step { pos, n_tokens } — the row read is n_tokens − 1 (the chunk may be partly filled).
// Dispatch: a single workgroup; WG_SIZE threads stride over dim, then a tree reduction in f32 (as rms_norm).
// Overrides: WG_SIZE — power of two, ≤ maxComputeInvocationsPerWorkgroup.
//! import "lib/step.wgsl"
//! import "lib/reduce.wgsl"

override WG_SIZE: u32 = 64u;

struct Params {
  dim: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(local_invocation_index) lid: u32) {
  let base = (step.n_tokens - 1u) * params.dim;
  var sum_sq = 0.0;
  for (var i = lid; i < params.dim; i += WG_SIZE) {
    let v = f32(x[base + i]);
    sum_sq += v * v;
  }
  let total_sq = workgroup_sum(lid, sum_sq);
  let inv_rms = inverseSqrt(total_sq / f32(params.dim) + params.eps);
  for (var i = lid; i < params.dim; i += WG_SIZE) {
    out[i] = act(f32(x[base + i]) * inv_rms * weight[i]);
  }
}
