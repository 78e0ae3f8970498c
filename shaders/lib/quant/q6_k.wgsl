// Q6_K units: a super-block of 256 is 8 units of 32. Repacked layout: `ql` (32 u32 per super-block: 128 bytes of
// low 4 bits), `qh` (16 u32: 64 bytes of high 2 bits), `scales` (4 u32: 16 signed 8-bit scales, one per 16
// elements) and `d` (f16, two super-blocks per u32). Element e of a super-block: half h = e/128, quarter q =
// (e%128)/32, l = e%32; low4 = ql[64h + l + 32·(q odd)] >> 4·(q ≥ 2); high2 = qh[32h + l] >> 2q;
// value = d·scale[8h + 2q + l/16]·((low4 | high2 << 4) − 32). The importing kernel declares `ql`, `qh`, `scales`,
// `d`.
fn byte_of(word: u32, i: u32) -> u32 {
  return extractBits(word, 8u * (i % 4u), 8u);
}

fn unit_code(unit: u32, l: u32) -> f32 {
  let s = unit / 8u;
  let h = (unit % 8u) / 4u;
  let q = unit % 4u;
  let low_index = 64u * h + l + 32u * (q % 2u);
  let low4 = extractBits(byte_of(ql[s * 32u + low_index / 4u], low_index), 4u * (q / 2u), 4u);
  let high_index = 32u * h + l;
  let high2 = extractBits(byte_of(qh[s * 16u + high_index / 4u], high_index), 2u * q, 2u);
  return f32(i32(low4 | (high2 << 4u)) - 32);
}

/// d·scale for the 16 elements of the unit starting at element 16·half_unit.
fn unit_scale(unit: u32, half_unit: u32) -> f32 {
  let s = unit / 8u;
  let index = 8u * ((unit % 8u) / 4u) + 2u * (unit % 4u) + half_unit;
  let scale = extractBits(bitcast<i32>(scales[s * 4u + index / 4u]), 8u * (index % 4u), 8u);
  return unpack2x16float(d[s >> 1u])[s & 1u] * f32(scale);
}

fn unit_value(unit: u32, i: u32) -> f32 {
  return unit_scale(unit, i / 16u) * unit_code(unit, i);
}
