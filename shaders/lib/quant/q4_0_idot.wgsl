// Integer dot products of Q4_0 weight units with int8-quantized activation blocks (layouts: q4_0.wgsl and
// q8_act.wgsl). methods.md §8.3: Σ(d_w·(nib − 8)·d_x·q_x) = d_w·(d_x·Σ(nib·q_x) − 8·s_x). The raw nibbles 0..15 are
// valid positive int8 bytes once masked with 0x0F0F0F0F, so the −8 offset never enters the integer dot: it costs one
// multiply by the block sum s_x. Word w of a block holds elements 4w..4w+3 in its low nibbles and 16+4w.. in its
// high nibbles, i.e. activation words w and 4 + w. The importing kernel declares `qs`, `d`, `xq`, `xd`, `xs`.
//! import "lib/quant/q4_0.wgsl"

fn unit_dot_q8(unit: u32, x_block: u32) -> f32 {
  var sum = 0;
  for (var w = 0u; w < 4u; w++) {
    let word = qs[unit * 4u + w];
    sum += dot4I8Packed(word & 0x0F0F0F0Fu, xq[x_block * 8u + w]);
    sum += dot4I8Packed((word >> 4u) & 0x0F0F0F0Fu, xq[x_block * 8u + 4u + w]);
  }
  return unit_scale(unit) * (xd[x_block] * f32(sum) - 8.0 * xs[x_block]);
}
