// A weight unit (32 elements) prepared for integer dot products with one int8 activation block (q8_act.wgsl):
// `words` are the unit's codes as 8 packed int8 words in activation-word order (word w pairs with activation word w),
// and the unit's contribution against block b is scale·xd[b]·Σ dot4I8Packed(words[w], xq[b·8 + w]) − offset·xs[b]
// (methods.md §8.3; offset carries a format's zero point or min, 0 for Q8_0). Each format's lib/quant/<f>_idot.wgsl
// builds it in `unit_load_q8`, so the GEMV (one use per load) and the tiled GEMM (one load per tile of tokens)
// share one decoder. The importing kernel declares `xq`.

struct Q8Unit {
  words: array<u32, 8>,
  scale: f32,
  offset: f32,
}

/// Σ over the unit of (weight code)·(activation code) against activation block `x_block` in storage; exact in i32
/// (|Σ| ≤ 32·127·127).
fn q8_unit_sum(wu: Q8Unit, x_block: u32) -> i32 {
  var sum = 0i;
  for (var w = 0u; w < 8u; w++) {
    sum += dot4I8Packed(wu.words[w], xq[x_block * 8u + w]);
  }
  return sum;
}
