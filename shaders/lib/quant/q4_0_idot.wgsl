// Integer dot products of Q4_0 weight units with int8-quantized activation blocks (layouts: q4_0.wgsl and
// q8_act.wgsl). methods.md §8.3: Σ(d_w·(nib − 8)·d_x·q_x) = d_w·d_x·Σ(nib·q_x) − 8·d_w·s_x. The raw nibbles 0..15 are
// valid positive int8 bytes once masked with 0x0F0F0F0F, so the −8 offset never enters the integer dot: it costs one
// multiply by the block sum s_x. Word w of a block holds elements 4w..4w+3 in its low nibbles and 16+4w.. in its
// high nibbles, i.e. activation words w and 4 + w. The importing kernel declares `qs`, `d`, `xq`, `xd`, `xs`.
//! import "lib/quant/q4_0.wgsl"
//! import "lib/quant/q8_unit.wgsl"

fn unit_load_q8(unit: u32) -> Q8Unit {
  var wu: Q8Unit;
  for (var w = 0u; w < 4u; w++) {
    let word = qs[unit * 4u + w];
    wu.words[w] = word & 0x0F0F0F0Fu;
    wu.words[4u + w] = (word >> 4u) & 0x0F0F0F0Fu;
  }
  wu.scale = unit_scale(unit);
  wu.offset = 8.0 * wu.scale;
  return wu;
}

fn unit_dot_q8(unit: u32, x_block: u32) -> f32 {
  let wu = unit_load_q8(unit);
  return wu.scale * xd[x_block] * f32(q8_unit_sum(wu, x_block)) - wu.offset * xs[x_block];
}
