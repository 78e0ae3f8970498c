// What a linear kernel does with y = W·x[t] of one output (ops.ts LinearEpilogue, docs/performance.md "Fusions"),
// chosen by the override EPILOGUE at plan build:
//   0 store  out[t, r] = y[r]
//   1 add    out[t, r] += y[r] (the residual add; rounds y to act first, as add_inplace does after a store)
//   2 glu    W's rows are gate/up pairs (gate_0, up_0, gate_1, up_1, …): out[t, i] = silu(y[2i])·y[2i+1], out is
//            [n_tokens, rows/2]; y is rounded to act first, as silu_mul does after two stores (lib/silu_mul.wgsl).
//            Bit-identical to the unfused path with f32 activations; with f16 a compiler may fold the in-register
//            f32 → f16 → f32 round trip of the gate (lavapipe does: ≤ 1 f16 ulp apart, epilogue-ops.gpu.test.ts)
//   3 split  W = [Wq; Wk; Wv] by rows, SPLIT_A + SPLIT_B + c = rows: out holds [n, SPLIT_A], then [n, SPLIT_B], then
//            [n, c] (q, k and v of the n tokens, each contiguous)
// Kernels iterate over output *slots*: a slot is one weight row, or in glu mode the pair of rows 2i, 2i + 1, whose two
// sums the kernel computes side by side (sharing each read of x) before calling epilogue_store once. The importing
// kernel declares `out: array<act>`.
//! import "lib/silu_mul.wgsl"

override EPILOGUE: u32 = 0u;
override SPLIT_A: u32 = 0u;
override SPLIT_B: u32 = 0u;

// Weight rows per output slot: 2 in glu mode (gate, up), else 1.
fn epilogue_rows_per_slot() -> u32 {
  return select(1u, 2u, EPILOGUE == 2u);
}

fn epilogue_slots(rows: u32) -> u32 {
  return rows / epilogue_rows_per_slot();
}

// Writes slot `slot` of token `token` (of n_tokens) of a W with `rows` rows: y0 is the slot's sum (the gate's in glu
// mode), y1 the up row's sum in glu mode and unused otherwise.
fn epilogue_store(rows: u32, n_tokens: u32, token: u32, slot: u32, y0: f32, y1: f32) {
  switch EPILOGUE {
    case 1u: {
      let i = token * rows + slot;
      out[i] = out[i] + act(y0);
    }
    case 2u: {
      out[token * (rows / 2u) + slot] = silu_mul_value(act(y0), act(y1));
    }
    case 3u: {
      let ab = SPLIT_A + SPLIT_B;
      var i = n_tokens * ab + token * (rows - ab) + (slot - ab);
      if (slot < SPLIT_A) {
        i = token * SPLIT_A + slot;
      } else if (slot < ab) {
        i = n_tokens * SPLIT_A + token * SPLIT_B + (slot - SPLIT_A);
      }
      out[i] = act(y0);
    }
    default: {
      out[token * rows + slot] = act(y0);
    }
  }
}
