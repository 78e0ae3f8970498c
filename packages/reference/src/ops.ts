// CPU twins of the GPU kernels. Every op takes and returns Float32Array (the storage type of the GPU buffers), but
// every sum, product and transcendental is computed in JS numbers (IEEE doubles) and rounded to f32 only when
// stored. The reference is therefore *more* accurate than an f32 kernel, never differently wrong: a GPU result is
// compared against something whose own error is negligible next to the kernel's f32 rounding.

/** Throws a RangeError naming the operand when an input does not have the length its shape implies. */
function expectLength(what: string, array: ArrayLike<number>, length: number): void {
  if (array.length !== length) throw new RangeError(`${what}: expected ${length} elements, got ${array.length}`);
}

/**
 * RMS normalization of each row of `x` ([rows, dim]): `x / sqrt(mean(x²) + eps) * weight`.
 * The mean of squares is summed in double, as ggml does (`ggml_float` sum in `ggml_compute_forward_rms_norm`).
 */
export function rmsNorm(x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): Float32Array {
  expectLength('rmsNorm x', x, rows * dim);
  expectLength('rmsNorm weight', weight, dim);
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    let sumSq = 0;
    for (let i = 0; i < dim; i++) sumSq += x[base + i]! * x[base + i]!;
    const scale = 1 / Math.sqrt(sumSq / dim + eps);
    for (let i = 0; i < dim; i++) out[base + i] = x[base + i]! * scale * weight[i]!;
  }
  return out;
}

/**
 * `y = W·x` for each of `nTokens` activation rows, as llama2.c's `matmul`: `w` is [rows = out_features,
 * cols = in_features] row-major, `x` is [nTokens, cols], the result is [nTokens, rows].
 * Dot products accumulate in double (see the file comment); only the stored result is rounded to f32.
 */
export function matmul(w: Float32Array, x: Float32Array, rows: number, cols: number, nTokens: number): Float32Array {
  expectLength('matmul w', w, rows * cols);
  expectLength('matmul x', x, nTokens * cols);
  const y = new Float32Array(nTokens * rows);
  for (let t = 0; t < nTokens; t++) {
    const xBase = t * cols;
    for (let r = 0; r < rows; r++) {
      const wBase = r * cols;
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += w[wBase + c]! * x[xBase + c]!;
      y[t * rows + r] = sum;
    }
  }
  return y;
}

/**
 * Rotary position embedding in GGUF "llama" layout (ggml rope mode NORM, as llama2.c): within each head the
 * ADJACENT pairs `(x[2i], x[2i+1])` for `2i < ropeDim` are rotated by `θ_i = pos · freqBase^(-2i/ropeDim)`;
 * dims at or beyond `ropeDim` pass through. `x` is [nTokens, nHeads·headDim]; token `t` sits at `positions[t]`.
 * Returns a new array; angles, sines and cosines are computed in double.
 */
export function ropeLlama(
  x: Float32Array, nTokens: number, nHeads: number, headDim: number,
  positions: readonly number[] | Int32Array, ropeDim: number, freqBase: number,
): Float32Array {
  expectLength('ropeLlama x', x, nTokens * nHeads * headDim);
  expectLength('ropeLlama positions', positions, nTokens);
  if (ropeDim % 2 !== 0 || ropeDim > headDim) throw new RangeError(`ropeLlama: ropeDim ${ropeDim} must be even and ≤ headDim ${headDim}`);
  const out = new Float32Array(x);
  for (let t = 0; t < nTokens; t++) {
    const pos = positions[t]!;
    for (let i = 0; 2 * i < ropeDim; i++) {
      const theta = pos * Math.pow(freqBase, (-2 * i) / ropeDim);
      const cos = Math.cos(theta);
      const sin = Math.sin(theta);
      for (let h = 0; h < nHeads; h++) {
        const at = (t * nHeads + h) * headDim + 2 * i;
        const x0 = x[at]!;
        const x1 = x[at + 1]!;
        out[at] = x0 * cos - x1 * sin;
        out[at + 1] = x0 * sin + x1 * cos;
      }
    }
  }
  return out;
}

/**
 * Causal grouped-query attention for `nTokens` queries at positions `startPos … startPos+nTokens-1`.
 * `q` is [nTokens, nHeads·headDim]; `kCache`/`vCache` are [seq, nKvHeads·headDim] and must hold positions
 * `0 … startPos+nTokens-1` (extra rows beyond that are ignored). Query head `h` reads KV head
 * `floor(h / (nHeads/nKvHeads))`; scores are scaled by `1/sqrt(headDim)` and query `t` sees positions `≤ startPos+t`.
 * Scores, softmax (max-subtracted) and the weighted sum of V are all in double. Returns [nTokens, nHeads·headDim].
 */
export function attention(
  q: Float32Array, kCache: Float32Array, vCache: Float32Array,
  nTokens: number, startPos: number, nHeads: number, nKvHeads: number, headDim: number,
): Float32Array {
  if (nHeads % nKvHeads !== 0) throw new RangeError(`attention: nHeads ${nHeads} is not a multiple of nKvHeads ${nKvHeads}`);
  expectLength('attention q', q, nTokens * nHeads * headDim);
  const kvDim = nKvHeads * headDim;
  const needed = (startPos + nTokens) * kvDim;
  if (kCache.length < needed || vCache.length < needed) {
    throw new RangeError(`attention: caches must hold ${startPos + nTokens} positions × ${kvDim} (${needed} elements)`);
  }
  const group = nHeads / nKvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const out = new Float32Array(nTokens * nHeads * headDim);
  const scores = new Float64Array(startPos + nTokens);
  const acc = new Float64Array(headDim);
  for (let t = 0; t < nTokens; t++) {
    const nKeys = startPos + t + 1;
    for (let h = 0; h < nHeads; h++) {
      const qBase = (t * nHeads + h) * headDim;
      const kvOffset = Math.floor(h / group) * headDim;
      let max = -Infinity;
      for (let p = 0; p < nKeys; p++) {
        const kBase = p * kvDim + kvOffset;
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[qBase + d]! * kCache[kBase + d]!;
        scores[p] = dot * scale;
        if (scores[p]! > max) max = scores[p]!;
      }
      let denom = 0;
      for (let p = 0; p < nKeys; p++) {
        scores[p] = Math.exp(scores[p]! - max);
        denom += scores[p]!;
      }
      acc.fill(0);
      for (let p = 0; p < nKeys; p++) {
        const weight = scores[p]! / denom;
        const vBase = p * kvDim + kvOffset;
        for (let d = 0; d < headDim; d++) acc[d]! += weight * vCache[vBase + d]!;
      }
      for (let d = 0; d < headDim; d++) out[qBase + d] = acc[d]!;
    }
  }
  return out;
}

/** SwiGLU gate: `silu(gate) · up` elementwise, with `silu(g) = g / (1 + e^-g)`. */
export function siluMul(gate: Float32Array, up: Float32Array): Float32Array {
  expectLength('siluMul up', up, gate.length);
  const out = new Float32Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i]!;
    out[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
  return out;
}

/**
 * x[t, j] · scale[j] for x [nTokens, cols]: SINQ's per-input-column scale t applied to a linear's input
 * (methods.md §2.1), the twin of scale_columns.
 */
export function scaleColumns(x: Float32Array, scale: Float32Array, nTokens: number, cols: number): Float32Array {
  expectLength('scaleColumns x', x, nTokens * cols);
  expectLength('scaleColumns scale', scale, cols);
  return Float32Array.from(x, (v, i) => v * scale[i % cols]!);
}

/** Elementwise `a + b` (the residual connection). */
export function add(a: Float32Array, b: Float32Array): Float32Array {
  expectLength('add b', b, a.length);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

/** Index of the largest element; ties go to the first, as llama.cpp's greedy sampler and the GPU argmax kernel. */
export function argmax(x: Float32Array): number {
  if (x.length === 0) throw new RangeError('argmax: empty input');
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** Gathers rows of an embedding `table` ([vocab, dim]) for each token: returns [tokens.length, dim]. */
export function embed(table: Float32Array, dim: number, tokens: readonly number[]): Float32Array {
  const vocab = table.length / dim;
  const out = new Float32Array(tokens.length * dim);
  tokens.forEach((token, t) => {
    if (!Number.isInteger(token) || token < 0 || token >= vocab) throw new RangeError(`embed: token ${token} is outside the vocabulary (0…${vocab - 1})`);
    out.set(table.subarray(token * dim, (token + 1) * dim), t * dim);
  });
  return out;
}
