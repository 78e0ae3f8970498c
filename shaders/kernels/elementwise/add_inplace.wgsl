// add_inplace — x += y (the residual connection), element by element
//
// Bindings (group 0)         Shape     Type
//   params   uniform         —         Params { n }
//   y        read            [n]       act
//   x        read_write      [n]       act
// Dispatch: one thread per element, ceil(n / WG_SIZE) workgroups. In place, so one read_write binding (WebGPU
//   forbids binding one range as both read and read_write).
// Overrides: WG_SIZE.

override WG_SIZE: u32 = 64u;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<act>;
@group(0) @binding(2) var<storage, read_write> x: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i < params.n) {
    x[i] = x[i] + y[i];
  }
}
