// Q4_0 units (one unit = one block of 32) from the repacked layout: `qs` (4 u32 per block, the 16 code bytes in
// file order: byte j holds element j in its low nibble and element j + 16 in its high nibble) and `d` (f16 block
// scales, two per u32). value = (nibble − 8)·d. The importing kernel declares `qs`, `d`.
fn unit_scale(unit: u32) -> f32 {
  return unpack2x16float(d[unit >> 1u])[unit & 1u];
}

fn unit_value(unit: u32, i: u32) -> f32 {
  let j = i % 16u;
  let word = qs[unit * 4u + j / 4u];
  let nibble = extractBits(word, 8u * (j % 4u) + 4u * (i / 16u), 4u);
  return (f32(nibble) - 8.0) * unit_scale(unit);
}
