// Q8_0 units (one unit = one block of 32) from the repacked layout: `qs` (8 u32 per block, the 32 int8 codes in
// file order) and `d` (f16 block scales, two per u32). The importing kernel declares `qs`, `d`.
fn unit_scale(unit: u32) -> f32 {
  return unpack2x16float(d[unit >> 1u])[unit & 1u];
}

/// Element i (0..31) of the unit.
fn unit_value(unit: u32, i: u32) -> f32 {
  let word = bitcast<i32>(qs[unit * 8u + i / 4u]);
  return f32(extractBits(word, 8u * (i % 4u), 8u)) * unit_scale(unit);
}
