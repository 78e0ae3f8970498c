// lut_build — the T-MAC tables of every token (methods.md §5.1): for each group of 4 activations the 8 odd entries
// T[2j+1] = x0 ± x1 ± x2 ± x3 (the even ones are their negations, T[idx] = −T[15 − idx]), and Σx per 32 columns
//
// Bindings (group 0)         Shape                  Type
//   params   uniform         —                      Params { cols }
//   x        read            [n_tokens, cols]       act
//   tables   read_write      [n_tokens, cols/4, 8]  f32 — entry j of group G is T_G[2j + 1]
//   sums     read_write      [n_tokens, cols/32]    f32 — Σx over each 32-column block
// Dispatch: one invocation per 4-activation group; workgroups x = ⌈(cols/4)/WG_SIZE⌉ chunks of a token's groups,
//   z = token. cols is a multiple of 32. The invocation of the first group of each 32-column block also writes its
//   sum (32 reads, sequential like the CPU twin's order).
// Overrides: WG_SIZE.
override WG_SIZE: u32 = 64u;

struct Params {
  cols: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read_write> tables: array<f32>;
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let groups_per_token = params.cols / 4u;
  let g = gid.x;
  if (g >= groups_per_token) {
    return;
  }
  let token = gid.z;
  let base = token * params.cols + 4u * g;
  let x0 = f32(x[base]);
  let x1 = f32(x[base + 1u]);
  let x2 = f32(x[base + 2u]);
  let x3 = f32(x[base + 3u]);
  // Index bit e ↔ element e, bit set → +x (methods.md §5.5); j's bit e−1 is index bit e for e = 1..3.
  let dst = (token * groups_per_token + g) * 8u;
  for (var j = 0u; j < 8u; j++) {
    let s1 = select(-x1, x1, (j & 1u) != 0u);
    let s2 = select(-x2, x2, (j & 2u) != 0u);
    let s3 = select(-x3, x3, (j & 4u) != 0u);
    tables[dst + j] = x0 + s1 + s2 + s3;
  }
  if (g % 8u == 0u) {
    var s = 0.0;
    for (var e = 0u; e < 32u; e++) {
      s += f32(x[base + e]);
    }
    sums[token * (params.cols / 32u) + g / 8u] = s;
  }
}
