// Q5_0 units (one unit = one block of 32): `qs` (4 u32 per block, Q4_0's nibble order), `qh` (one u32 per block:
// bit j is the fifth bit of element j) and `d` (f16 scales, two per u32). value = ((nibble | high << 4) − 16)·d.
// The importing kernel declares `qs`, `qh`, `d`.
fn unit_scale(unit: u32) -> f32 {
  return unpack2x16float(d[unit >> 1u])[unit & 1u];
}

fn unit_code(unit: u32, i: u32) -> f32 {
  let j = i % 16u;
  let nibble = extractBits(qs[unit * 4u + j / 4u], 8u * (j % 4u) + 4u * (i / 16u), 4u);
  let high = extractBits(qh[unit], i, 1u);
  return f32(nibble | (high << 4u)) - 16.0;
}

fn unit_value(unit: u32, i: u32) -> f32 {
  return unit_code(unit, i) * unit_scale(unit);
}
