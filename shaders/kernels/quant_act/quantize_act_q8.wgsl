// quantize_act_q8 — xq, xd, xs = x quantized to int8 per block of 32 (ggml Q8_1: d = amax/127, q = round(x/d),
// s = d·Σq), the activation operand of the matmul_dp4a_* kernels
//
// Bindings (group 0)         Shape                  Type
//   params   uniform         —                      Params { n_blocks }
//   x        read            [n_tokens, cols]       act
//   xq       read_write      [n_tokens, cols/4]     u32 (4 codes per word, see lib/quant/q8_act.wgsl)
//   xd       read_write      [n_tokens, cols/32]    f32
//   xs       read_write      [n_tokens, cols/32]    f32
// Dispatch: one thread per block of 32, block = global x + global y·(x-count·WG_SIZE); n_blocks = n_tokens·cols/32.
//   cols is a multiple of 32, so block b covers x[32b .. 32b+32) whatever the token count.
// Rounding: WGSL round() is half-to-even, ggml's quantize_row_q8_1_ref uses roundf (half away from zero): a code can
//   differ from llama.cpp's by one where x/d is exactly k + ½. q = round(x · (1/d)) as in ggml; 1/d and amax/127
//   are f32 divisions, which WGSL allows 2.5 ulp, so the CPU twin can differ by one code next to a rounding edge.
// Overrides: WG_SIZE.
//! import "lib/quant/q8_act.wgsl"

override WG_SIZE: u32 = 64u;

struct Params {
  n_blocks: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read_write> xq: array<u32>;
@group(0) @binding(3) var<storage, read_write> xd: array<f32>;
@group(0) @binding(4) var<storage, read_write> xs: array<f32>;

fn x4(at: u32) -> vec4<f32> {
  return vec4<f32>(f32(x[at]), f32(x[at + 1u]), f32(x[at + 2u]), f32(x[at + 3u]));
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let blk = gid.x + gid.y * groups.x * WG_SIZE;
  if (blk >= params.n_blocks) {
    return;
  }
  let base = 32u * blk;
  var amax = vec4<f32>(0.0);
  for (var i = 0u; i < 32u; i += 4u) {
    amax = max(amax, abs(x4(base + i)));
  }
  let d = max(max(amax.x, amax.y), max(amax.z, amax.w)) / 127.0;
  // An all-zero blk gets d = 0 and codes 0 (ggml: id = d ? 1/d : 0), never a division by zero.
  let id = select(0.0, 1.0 / d, d > 0.0);
  var sum = 0;
  for (var w = 0u; w < 8u; w++) {
    let word = pack_codes(round(x4(base + 4u * w) * id));
    xq[8u * blk + w] = word;
    sum += code_sum(word);
  }
  xd[blk] = d;
  xs[blk] = d * f32(sum);
}
