// lut_build_i8 — int8-quantized T-MAC tables (methods.md §5.1 table quantization): per 32-column block, the 8 odd
// entries T[2j+1] = x0 ± x1 ± x2 ± x3 of each of its 8 groups, scaled by max|T| / 127 and rounded to int8, plus Σx
//
// Bindings (group 0)         Shape                  Type
//   params   uniform         —                      Params { cols }
//   x        read            [n_tokens, cols]       act
//   qtables  read_write      [n_tokens, cols/4, 2]  u32 — entry j of a group in byte j % 4 of word j / 4 (two's complement)
//   scales   read_write      [n_tokens, cols/32]    f32 — max|T| / 127 over the block (0 for an all-zero block)
//   sums     read_write      [n_tokens, cols/32]    f32 — Σx over the block, kept in float
// Dispatch: one invocation per 32-column block; workgroups x = ⌈(cols/32)/WG_SIZE⌉, z = token. cols is a multiple
//   of 32. One scale per 32 columns, not T-MAC's 64, so every cols the f32 path takes works here too.
// Overrides: WG_SIZE.
override WG_SIZE: u32 = 64u;

struct Params {
  cols: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read_write> qtables: array<u32>;
@group(0) @binding(3) var<storage, read_write> scales: array<f32>;
@group(0) @binding(4) var<storage, read_write> sums: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let blocks_per_token = params.cols / 32u;
  if (gid.x >= blocks_per_token) {
    return;
  }
  let blk = gid.z * blocks_per_token + gid.x;
  let base = 32u * blk;
  // The block's 64 f32 entries, in the same order and f32 additions as lut_build (index bit e ↔ element e).
  var entries: array<f32, 64>;
  var amax = 0.0;
  var s = 0.0;
  for (var g = 0u; g < 8u; g++) {
    let x0 = f32(x[base + 4u * g]);
    let x1 = f32(x[base + 4u * g + 1u]);
    let x2 = f32(x[base + 4u * g + 2u]);
    let x3 = f32(x[base + 4u * g + 3u]);
    for (var j = 0u; j < 8u; j++) {
      let t = x0 + select(-x1, x1, (j & 1u) != 0u) + select(-x2, x2, (j & 2u) != 0u) + select(-x3, x3, (j & 4u) != 0u);
      entries[8u * g + j] = t;
      amax = max(amax, abs(t));
    }
  }
  for (var e = 0u; e < 32u; e++) {
    s += f32(x[base + e]);
  }
  let scale = amax / 127.0;
  scales[blk] = scale;
  sums[blk] = s;
  for (var w = 0u; w < 16u; w++) {
    var word = 0u;
    for (var k = 0u; k < 4u; k++) {
      var q = 0i;
      if (scale > 0.0) {
        q = clamp(i32(round(entries[4u * w + k] / scale)), -127i, 127i);
      }
      word |= (bitcast<u32>(q) & 0xffu) << (8u * k);
    }
    qtables[16u * blk + w] = word;
  }
}
