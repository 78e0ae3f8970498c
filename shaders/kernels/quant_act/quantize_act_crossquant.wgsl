// quantize_act_crossquant — xq, xd, xs = CrossQuant int8 quantization of x (methods.md §3): element scale
// Δ_tj = t_t^α · c_j^(1−α) / 127 with t_t = max_j |x_tj| (the token's row) and c_j = col_max[j] (static, calibrated),
// and zero_count += (nonzero elements, nonzero elements quantized to 0) — the "quantization kernel" of the paper
//
// Bindings (group 0)         Shape                  Type
//   params     uniform       —                      Params { cols, alpha }
//   x          read          [n_tokens, cols]       act
//   col_max    read          [cols]                 f32 (c_j ≥ 0; 0 marks a column never active in calibration)
//   xq         read_write    [n_tokens, cols/4]     u32 (4 codes per word, see lib/quant/q8_act.wgsl)
//   xd         read_write    [n_tokens, cols/32]    f32 (t_t^α / 127, repeated for each block of the token)
//   xs         read_write    [n_tokens, cols/32]    f32 (xd·Σq per block)
//   zero_count read_write    [2]                    atomic<u32> (accumulates; the caller zeroes it)
// Dispatch: one workgroup per token (x); WG_SIZE threads find t_t by a workgroup max, then take blocks of 32.
// GEMM mapping (methods.md §3.3): x_tj ≈ q_tj · (t_t^α/127) · c_j^(1−α). The column factor varies inside a block, so
//   it cannot ride on a per-block activation scale; it must be folded into the weights' input columns offline
//   (W' = W·diag(c^(1−α)), then quantized as usual). What remains is one scale per token, written per block so the
//   matmul_dp4a_* kernels consume this output unchanged: y = W'·(xd·q). c_j = 0 gives code 0; |x_tj| > c_j (outside
//   calibration) can exceed 127 and is clamped. α = 1 is per-token quantization, α = 0 per-channel.
// Overrides: WG_SIZE — power of two.
//! import "lib/quant/q8_act.wgsl"
//! import "lib/reduce.wgsl"

override WG_SIZE: u32 = 64u;

struct Params {
  cols: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read> col_max: array<f32>;
@group(0) @binding(3) var<storage, read_write> xq: array<u32>;
@group(0) @binding(4) var<storage, read_write> xd: array<f32>;
@group(0) @binding(5) var<storage, read_write> xs: array<f32>;
@group(0) @binding(6) var<storage, read_write> zero_count: array<atomic<u32>, 2>;

/// base^e for base ≥ 0, with 0^e = 0 (e > 0) and base^0 = 1: WGSL leaves pow undefined at base 0.
fn pow_or_one(base: f32, e: f32) -> f32 {
  if (e == 0.0) {
    return 1.0;
  }
  return select(0.0, pow(base, e), base > 0.0);
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x * params.cols;
  var local_max = 0.0;
  for (var j = lid; j < params.cols; j += WG_SIZE) {
    local_max = max(local_max, abs(f32(x[row + j])));
  }
  let row_scale = pow_or_one(workgroup_max(lid, local_max), params.alpha);
  let d = row_scale / 127.0;
  let r = select(0.0, 127.0 / row_scale, row_scale > 0.0);
  var nonzero = 0u;
  var zeroed = 0u;
  let blocks = params.cols / 32u;
  for (var b = lid; b < blocks; b += WG_SIZE) {
    var sum = 0;
    for (var w = 0u; w < 8u; w++) {
      var q = vec4<f32>(0.0);
      for (var k = 0u; k < 4u; k++) {
        let j = 32u * b + 4u * w + k;
        let v = f32(x[row + j]);
        let col_scale = pow_or_one(col_max[j], 1.0 - params.alpha);
        let inv = select(0.0, r / col_scale, col_scale > 0.0);
        q[k] = clamp(round(v * inv), -127.0, 127.0);
        nonzero += select(0u, 1u, v != 0.0);
        zeroed += select(0u, 1u, v != 0.0 && q[k] == 0.0);
      }
      let word = pack_codes(q);
      xq[(row + 32u * b) / 4u + w] = word;
      sum += code_sum(word);
    }
    xd[row / 32u + b] = d;
    xs[row / 32u + b] = d * f32(sum);
  }
  atomicAdd(&zero_count[0], nonzero);
  atomicAdd(&zero_count[1], zeroed);
}
