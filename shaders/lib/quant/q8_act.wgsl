// Activations quantized to int8 per block of 32: ggml's Q8_1 block (d, s = d·Σq, 32 int8 codes) as structure of
// arrays, written by quantize_act_q8 (and, with one scale per token, quantize_act_crossquant):
//   xq  8 u32 per block — the 32 codes, element i in byte i % 4 (little-endian) of word i / 4, as dot4I8Packed reads
//   xd  one f32 per block — the scale d, x ≈ d·q
//   xs  one f32 per block — d·Σq, which weight formats with an offset or a min subtract once per block
// Block b of token t is t·(cols/32) + b, so a token's blocks are contiguous. Only the int8 packing lives here: the
// consumers index the three arrays directly because not every kernel declares `xs`.

/// Packs four codes (already in −127..127) into one word in dot4I8Packed's byte order.
fn pack_codes(q: vec4<f32>) -> u32 {
  return pack4xI8Clamp(vec4<i32>(q));
}

/// Σ of the four signed codes of a packed word (dot with 1,1,1,1).
fn code_sum(word: u32) -> i32 {
  return dot4I8Packed(word, 0x01010101u);
}
