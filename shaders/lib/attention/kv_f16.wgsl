// KV cache in f16, stored as packed pairs in u32 words (element e in half e % 2 of word e / 2, low half first), so
// it needs no shader-f16: unpack2x16float / pack2x16float are core WGSL and run on every adapter (SwiftShader too).
// Halves the cache's bytes; every stored value is rounded once to 11 significant bits.
// key4(e) / value4(e) read elements e .. e+3 (e a multiple of 4) of the importing kernel's `k_cache` / `v_cache`.
fn key4(e: u32) -> vec4<f32> {
  let w = e >> 1u;
  return vec4<f32>(unpack2x16float(k_cache[w]), unpack2x16float(k_cache[w + 1u]));
}

fn value4(e: u32) -> vec4<f32> {
  let w = e >> 1u;
  return vec4<f32>(unpack2x16float(v_cache[w]), unpack2x16float(v_cache[w + 1u]));
}
