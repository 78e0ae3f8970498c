// matmul_f32 — y[t] = W · x[t] for every token t, with W [rows, cols] stored as f32 (row-major, as in GGUF)
//
// Bindings (group 0)         Shape               Type
//   params   uniform         —                   Params { rows, cols }
//   x        read            [n_tokens, cols]    act
//   weight   read            [rows, cols]        f32
//   out      read_write      [n_tokens, rows]    act
// Dispatch: one workgroup per (row, token): x = row % 65535-split, y = row / x-count, z = token.
//   WG_SIZE threads stride over cols and reduce in f32 through workgroup memory.
// Overrides: WG_SIZE — power of two.

//! import "lib/reduce.wgsl"

override WG_SIZE: u32 = 64u;

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wg.x + wg.y * groups.x;
  if (row >= params.rows) {
    return;
  }
  let token = wg.z;
  let row_base = row * params.cols;
  let x_base = token * params.cols;
  var acc = 0.0;
  for (var c = lid; c < params.cols; c += WG_SIZE) {
    acc += weight[row_base + c] * f32(x[x_base + c]);
  }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) {
    out[token * params.rows + row] = act(total);
  }
}
