// Q4_K units: a super-block of 256 is 8 units of 32 (its sub-blocks), each with a 6-bit scale and min. Repacked
// layout: `qs` (32 u32 per super-block, the 128 code bytes in file order), `scales` (3 u32 per super-block, the 12
// packed scale bytes) and `dm` (one u32 per super-block: f16 d low, f16 dmin high). Sub-block sb reads the low
// nibbles (sb even) or high nibbles (sb odd) of bytes 32·(sb/2) .. +32. value = d·sc·nibble − dmin·m.
// The importing kernel declares `qs`, `scales`, `dm`.
fn scale_byte(super_block: u32, i: u32) -> u32 {
  return extractBits(scales[super_block * 3u + i / 4u], 8u * (i % 4u), 8u);
}

/// (d·sc, dmin·m) of unit `unit`, as ggml's get_scale_min_k4 decodes them, products in f32.
fn unit_scale_min(unit: u32) -> vec2<f32> {
  let s = unit / 8u;
  let sb = unit % 8u;
  var sc: u32;
  var m: u32;
  if (sb < 4u) {
    sc = scale_byte(s, sb) & 63u;
    m = scale_byte(s, sb + 4u) & 63u;
  } else {
    sc = (scale_byte(s, sb + 4u) & 15u) | ((scale_byte(s, sb - 4u) >> 6u) << 4u);
    m = (scale_byte(s, sb + 4u) >> 4u) | ((scale_byte(s, sb) >> 6u) << 4u);
  }
  let dmin = unpack2x16float(dm[s]);
  return vec2<f32>(dmin.x * f32(sc), dmin.y * f32(m));
}

fn unit_nibble(unit: u32, l: u32) -> f32 {
  let s = unit / 8u;
  let sb = unit % 8u;
  let byte_index = 32u * (sb / 2u) + l;
  return f32(extractBits(qs[s * 32u + byte_index / 4u], 8u * (byte_index % 4u) + 4u * (sb % 2u), 4u));
}

fn unit_value(unit: u32, i: u32) -> f32 {
  let sm = unit_scale_min(unit);
  return sm.x * unit_nibble(unit, i) - sm.y;
}
