// silu_mul — gate = silu(gate) · up, the SwiGLU activation, in place on gate (silu(g) = g / (1 + e^−g))
//
// Bindings (group 0)         Shape     Type
//   params   uniform         —         Params { n }
//   up       read            [n]       act
//   gate     read_write      [n]       act
// Dispatch: one thread per element. Computed in f32 whatever act is, so exp cannot overflow f16.
// Overrides: WG_SIZE.
//! import "lib/silu_mul.wgsl"

override WG_SIZE: u32 = 64u;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> up: array<act>;
@group(0) @binding(2) var<storage, read_write> gate: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i < params.n) {
    gate[i] = silu_mul_value(gate[i], up[i]);
  }
}
