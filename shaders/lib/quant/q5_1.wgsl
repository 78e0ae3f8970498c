// Q5_1 units (one unit = one block of 32): `qs` (4 u32 per block, Q4_0's nibble order), `qh` (one u32 per block:
// bit j is the fifth bit of element j) and `dm` (f16 d low, f16 m high). value = (nibble | high << 4)·d + m.
// The importing kernel declares `qs`, `qh`, `dm`.
fn unit_code(unit: u32, i: u32) -> f32 {
  let j = i % 16u;
  let nibble = extractBits(qs[unit * 4u + j / 4u], 8u * (j % 4u) + 4u * (i / 16u), 4u);
  let high = extractBits(qh[unit], i, 1u);
  return f32(nibble | (high << 4u));
}

fn unit_value(unit: u32, i: u32) -> f32 {
  let dm_unit = unpack2x16float(dm[unit]);
  return unit_code(unit, i) * dm_unit.x + dm_unit.y;
}
