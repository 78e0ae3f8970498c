// Reads element `index` of an f16 array stored as packed pairs in u32 words (low half first, as in the file).
// unpack2x16float needs no shader-f16 feature, so f16 weights work on every adapter.
fn f16_at(words: ptr<storage, array<u32>, read>, index: u32) -> f32 {
  return unpack2x16float((*words)[index >> 1u])[index & 1u];
}
