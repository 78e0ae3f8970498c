// Integer dot products of Q4_K sub-blocks (units of 32) with int8-quantized activation blocks (layouts: q4_k.wgsl
// and q8_act.wgsl). methods.md §8.3, per sub-block: Σ((d·sc·nib − dmin·m)·d_x·q_x) = d·sc·d_x·Σ(nib·q_x) − dmin·m·s_x.
// Sub-block sb of a super-block uses the low (sb even) or high (sb odd) nibbles of the 8 words 8·(sb/2) ..; byte l
// of those words is element l, which is also byte l of activation word l/4. The importing kernel declares `qs`,
// `scales`, `dm`, `xq`, `xd`, `xs`.
//! import "lib/quant/q4_k.wgsl"
//! import "lib/quant/q8_unit.wgsl"

fn unit_load_q8(unit: u32) -> Q8Unit {
  let sb = unit % 8u;
  let base = (unit / 8u) * 32u + 8u * (sb / 2u);
  let shift = 4u * (sb % 2u);
  var wu: Q8Unit;
  for (var w = 0u; w < 8u; w++) {
    wu.words[w] = (qs[base + w] >> shift) & 0x0F0F0F0Fu;
  }
  let sm = unit_scale_min(unit);
  wu.scale = sm.x;
  wu.offset = sm.y;
  return wu;
}

fn unit_dot_q8(unit: u32, x_block: u32) -> f32 {
  let wu = unit_load_q8(unit);
  return wu.scale * xd[x_block] * f32(q8_unit_sum(wu, x_block)) - wu.offset * xs[x_block];
}
