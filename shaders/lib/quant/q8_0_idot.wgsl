// Integer dot products of Q8_0 weight units with int8-quantized activation blocks (layouts: q8_0.wgsl and
// q8_act.wgsl). methods.md §8.3: d_w·d_x·Σ(q_w·q_x), the sum exact in i32 (|Σ| ≤ 32·127·127). The importing kernel
// declares `qs`, `d`, `xq`, `xd`.
//! import "lib/quant/q8_0.wgsl"

fn unit_dot_q8(unit: u32, x_block: u32) -> f32 {
  var sum = 0;
  for (var w = 0u; w < 8u; w++) {
    sum += dot4I8Packed(qs[unit * 8u + w], xq[x_block * 8u + w]);
  }
  return unit_scale(unit) * xd[x_block] * f32(sum);
}
