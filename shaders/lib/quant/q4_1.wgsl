// Q4_1 units (one unit = one block of 32): `qs` (4 u32 per block, Q4_0's nibble order) and `dm` (one u32 per
// block: f16 d in the low half, f16 m in the high half). value = nibble·d + m. The kernel declares `qs`, `dm`.

fn unit_value(unit: u32, i: u32) -> f32 {
  let j = i % 16u;
  let nibble = extractBits(qs[unit * 4u + j / 4u], 8u * (j % 4u) + 4u * (i / 16u), 4u);
  let dm_unit = unpack2x16float(dm[unit]);
  return f32(nibble) * dm_unit.x + dm_unit.y;
}
