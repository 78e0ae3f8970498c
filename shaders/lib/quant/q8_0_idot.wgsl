// Integer dot products of Q8_0 weight units with int8-quantized activation blocks (layouts: q8_0.wgsl and
// q8_act.wgsl). methods.md §8.3: d_w·d_x·Σ(q_w·q_x), the sum exact in i32 (|Σ| ≤ 32·127·127). The codes already
// are int8 words in element order, so the unit needs no repacking (offset 0). The importing kernel declares `qs`,
// `d`, `xq`, `xd`.
//! import "lib/quant/q8_0.wgsl"
//! import "lib/quant/q8_unit.wgsl"

fn unit_load_q8(unit: u32) -> Q8Unit {
  var wu: Q8Unit;
  for (var w = 0u; w < 8u; w++) {
    wu.words[w] = qs[unit * 8u + w];
  }
  wu.scale = unit_scale(unit);
  wu.offset = 0.0;
  return wu;
}

fn unit_dot_q8(unit: u32, x_block: u32) -> f32 {
  let wu = unit_load_q8(unit);
  return wu.scale * xd[x_block] * f32(q8_unit_sum(wu, x_block));
}
