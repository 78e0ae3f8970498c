// KV cache in int8 with one scale per head block: for each position p and KV head h, the head_dim values
// x[p, h, 0..head_dim) are stored as codes q = round_half_even(x / d) in −127..127 with d = max|x| / 127 (symmetric
// absmax, f32), and read back as q·d. Codes: 4 per u32 word, element e in byte e % 4 (little-endian) of word e / 4,
// row-major [seq_len, n_kv_heads·head_dim]; scales: f32 [seq_len, n_kv_heads], so the block of element e is
// e / head_dim. A quarter of the f32 cache plus one f32 per head_dim values.
// Packing uses shifts and extractBits only (no packed_4x8_integer_dot_product), so it runs on every adapter.
// key4(e) / value4(e) read elements e .. e+3 (e a multiple of 4, head_dim % 4 == 0) of the importing kernel's
// `k_cache`, `k_scale` / `v_cache`, `v_scale`; the kernel's params carry head_dim.

fn unpack_codes(word: u32) -> vec4<f32> {
  let w = i32(word);
  return vec4<f32>(f32(extractBits(w, 0u, 8u)), f32(extractBits(w, 8u, 8u)), f32(extractBits(w, 16u, 8u)), f32(extractBits(w, 24u, 8u)));
}

/// Packs four codes (integers in −127..127, as f32) into one word, element i in byte i.
fn pack_codes_i8(q: vec4<f32>) -> u32 {
  let b = vec4<u32>(bitcast<vec4<u32>>(vec4<i32>(q)) & vec4<u32>(0xffu));
  return b.x | (b.y << 8u) | (b.z << 16u) | (b.w << 24u);
}

fn key4(e: u32) -> vec4<f32> {
  return unpack_codes(k_cache[e >> 2u]) * k_scale[e / params.head_dim];
}

fn value4(e: u32) -> vec4<f32> {
  return unpack_codes(v_cache[e >> 2u]) * v_scale[e / params.head_dim];
}
