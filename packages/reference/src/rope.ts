// CPU twins of the position encodings (docs/position-encoding.md): RoPE in both pair layouts with linear and YaRN
// frequency scaling, 3D-RPE's Eq. 4 computed literally in complex arithmetic together with its score (Eq. 5), and the
// released 3D-RPE code's chunked attention. Everything is computed in double from the formulas, per token, without
// the runtime's tables, so a GPU table or kernel is checked against an independent derivation.

/** Which dims form a rotated pair: 'norm' = GGUF llama (x[2i], x[2i+1]); 'neox' = rotate_half (x[i], x[i + d/2]). */
export type RopePairStyle = 'norm' | 'neox';

/** RoPE frequency scaling as GGUF `rope.scaling.*` describes it. */
export type RopeScalingSpec =
  | { readonly type: 'none' }
  | { readonly type: 'linear'; readonly factor: number }
  | {
    readonly type: 'yarn'; readonly factor: number; readonly originalContext: number;
    readonly attnFactor: number; readonly betaFast: number; readonly betaSlow: number; readonly extFactor: number;
  };

/** The rotation of one model: rotated dims, pair layout, base and scaling. */
export interface RopeSpec {
  readonly dim: number;
  readonly style: RopePairStyle;
  readonly freqBase: number;
  readonly scaling: RopeScalingSpec;
}

/**
 * Angular frequency of pair i (radians per position) and the factor on cos/sin, following ggml's rope_yarn: linear
 * scaling divides every frequency by the factor; YaRN blends interpolated (θ/factor) and original θ per pair with a
 * ramp between the "correction dims" of β_fast and β_slow rotations over the original context, and multiplies
 * cos/sin by attn_factor·(1 + 0.1·ln factor).
 */
export function ropePairFrequency(rope: RopeSpec, i: number): { omega: number; mscale: number } {
  const theta = Math.pow(rope.freqBase, (-2 * i) / rope.dim);
  const s = rope.scaling;
  if (s.type === 'none') return { omega: theta, mscale: 1 };
  if (s.type === 'linear') return { omega: theta / s.factor, mscale: 1 };
  // The dim (in pair-index units ×2) at which a frequency makes `rotations` turns over the original context.
  const correctionDim = (rotations: number) => (rope.dim * Math.log(s.originalContext / (rotations * 2 * Math.PI))) / (2 * Math.log(rope.freqBase));
  const low = Math.max(0, Math.floor(correctionDim(s.betaFast)));
  const high = Math.min(rope.dim - 1, Math.ceil(correctionDim(s.betaSlow)));
  const y = (i - low) / Math.max(0.001, high - low);
  const mix = (1 - Math.min(1, Math.max(0, y))) * s.extFactor;
  const omega = (theta / s.factor) * (1 - mix) + theta * mix;
  const mscale = s.extFactor !== 0 ? s.attnFactor * (1 + 0.1 * Math.log(s.factor)) : s.attnFactor;
  return { omega, mscale };
}

/** Index of the two dims of pair i within a head. */
function pairDims(style: RopePairStyle, ropeDim: number, i: number): [number, number] {
  return style === 'norm' ? [2 * i, 2 * i + 1] : [i, i + ropeDim / 2];
}

/**
 * Rotates every head of x ([nTokens, nHeads·headDim]) by `angle(t, i)` in pair i of token t, scaled by `mscale`
 * (YaRN); dims ≥ ropeDim pass through. Returns a new array.
 */
export function rotatePairs(
  x: Float32Array, nTokens: number, nHeads: number, headDim: number, ropeDim: number, style: RopePairStyle,
  angle: (t: number, i: number) => number, mscale: (i: number) => number = () => 1,
): Float32Array {
  if (x.length !== nTokens * nHeads * headDim) throw new RangeError(`rotatePairs: expected ${nTokens * nHeads * headDim} values, got ${x.length}`);
  if (ropeDim % 2 !== 0 || ropeDim > headDim) throw new RangeError(`rotatePairs: ropeDim ${ropeDim} must be even and ≤ headDim ${headDim}`);
  const out = new Float32Array(x);
  for (let t = 0; t < nTokens; t++) {
    for (let i = 0; i < ropeDim / 2; i++) {
      const a = angle(t, i);
      const m = mscale(i);
      const [cos, sin] = [Math.cos(a) * m, Math.sin(a) * m];
      const [d0, d1] = pairDims(style, ropeDim, i);
      for (let h = 0; h < nHeads; h++) {
        const base = (t * nHeads + h) * headDim;
        const x0 = x[base + d0]!;
        const x1 = x[base + d1]!;
        out[base + d0] = x0 * cos - x1 * sin;
        out[base + d1] = x0 * sin + x1 * cos;
      }
    }
  }
  return out;
}

/** RoPE of a model (any style and scaling) at the given absolute positions. */
export function ropeRotate(
  x: Float32Array, nTokens: number, nHeads: number, headDim: number, rope: RopeSpec, positions: readonly number[],
): Float32Array {
  return rotatePairs(x, nTokens, nHeads, headDim, rope.dim, rope.style,
    (t, i) => positions[t]! * ropePairFrequency(rope, i).omega, (i) => ropePairFrequency(rope, i).mscale);
}

// ---- 3D-RPE, paper form (Eqs. 4–5), in complex arithmetic -------------------------------------------------------

/** A complex number. */
interface Complex { re: number; im: number }
const mul = (a: Complex, b: Complex): Complex => ({ re: a.re * b.re - a.im * b.im, im: a.re * b.im + a.im * b.re });
const add = (a: Complex, b: Complex): Complex => ({ re: a.re + b.re, im: a.im + b.im });
const scale = (a: Complex, s: number): Complex => ({ re: a.re * s, im: a.im * s });
const conj = (a: Complex): Complex => ({ re: a.re, im: -a.im });
const expi = (angle: number): Complex => ({ re: Math.cos(angle), im: Math.sin(angle) });

/** Token position p → chunk j = ⌊p/c⌋ and in-chunk index m = p mod c. */
export function chunkOf(p: number, chunkSize: number): { j: number; m: number } {
  return { j: Math.floor(p / chunkSize), m: p % chunkSize };
}

/** The pair of frequency l of one head as a complex number (first dim real, second imaginary). */
function pairAsComplex(h: ArrayLike<number>, style: RopePairStyle, ropeDim: number, l: number): Complex {
  const [d0, d1] = pairDims(style, ropeDim, l);
  return { re: h[d0]!, im: h[d1]! };
}

/**
 * Eq. 4 literally: h̃_{j,m} = e^{i m θ} · (cos φ_j · h^⊥ + sin φ_j · h), with h^⊥ = [−h², h¹] (rotate_half: the second
 * member of every pair negated into the first slot), φ_j = phaseBase^(−j), θ_l the model's pair frequencies. Works on
 * one head h (headDim values; dims ≥ ropeDim pass through unchanged) and returns the encoded head.
 */
export function threeDRpeEq4(h: Float32Array, rope: RopeSpec, position: number, chunkSize: number, phaseBase: number): Float64Array {
  const { j, m } = chunkOf(position, chunkSize);
  const phi = Math.pow(phaseBase, -j);
  const out = Float64Array.from(h);
  for (let l = 0; l < rope.dim / 2; l++) {
    const [d0, d1] = pairDims(rope.style, rope.dim, l);
    const hc = pairAsComplex(h, rope.style, rope.dim, l);
    const hPerp: Complex = { re: -h[d1]!, im: h[d0]! };
    const bloch = add(scale(hPerp, Math.cos(phi)), scale(hc, Math.sin(phi)));
    const { omega, mscale } = ropePairFrequency(rope, l);
    const encoded = scale(mul(expi(m * omega), bloch), mscale);
    out[d0] = encoded.re;
    out[d1] = encoded.im;
  }
  return out;
}

/**
 * Eq. 5: the attention score of query q at position pq and key k at position pk from the *unrotated* heads,
 * s = Re[ e^{i(φ_i − φ_j)} Σ_l e^{−i(m−n)θ_l} · conj(q_l) · k_l ] + Σ_{d ≥ ropeDim} q_d k_d, where q_l, k_l are the
 * complex pairs, (i, m) and (j, n) the chunk and in-chunk index of the query and key. (methods.md's transcription
 * writes e^{+i(m−n)θ} and q_l·k_l; with conj(q)·k the real part is the same up to that convention.) The pass-through
 * dims add their plain dot product; YaRN's mscale multiplies each pair term by mscale².
 */
export function threeDRpeScoreEq5(
  q: Float32Array, k: Float32Array, rope: RopeSpec, pq: number, pk: number, chunkSize: number, phaseBase: number,
): number {
  const { j: i, m } = chunkOf(pq, chunkSize);
  const { j, m: n } = chunkOf(pk, chunkSize);
  let sum: Complex = { re: 0, im: 0 };
  for (let l = 0; l < rope.dim / 2; l++) {
    const { omega, mscale } = ropePairFrequency(rope, l);
    const term = mul(conj(pairAsComplex(q, rope.style, rope.dim, l)), pairAsComplex(k, rope.style, rope.dim, l));
    sum = add(sum, scale(mul(expi(-(m - n) * omega), term), mscale * mscale));
  }
  const phase = expi(Math.pow(phaseBase, -i) - Math.pow(phaseBase, -j));
  let score = mul(phase, sum).re;
  for (let d = rope.dim; d < q.length; d++) score += q[d]! * k[d]!;
  return score;
}

/**
 * Theorem 1's interpolated chunk size: keep ⌈L_p/c⌉ chunks and spread a context of L over them, c′ = ⌈L / ⌈L_p/c⌉⌉;
 * a context that already fits (c′ < c) keeps c.
 */
export function interpolatedChunkSize(chunkSize: number, trainedContext: number, context: number): number {
  return Math.max(chunkSize, Math.ceil(context / Math.ceil(trainedContext / chunkSize)));
}

// ---- 3D-RPE, released code (chunked attention) ------------------------------------------------------------------

/** The released code's chunk geometry: chunk_len = chunk_size − local_window; query positions per key chunk. */
export interface ChunkedGeometry {
  readonly chunkSize: number;
  readonly localWindow: number;
  readonly phaseBase: number;
}

/**
 * The query rotation the released code uses against a key in chunk `keyChunk`, for a query at absolute position p:
 * same chunk (intra) at m = p mod chunk_len; previous chunk (successive) at min(m + chunk_len, chunk_size); older
 * chunks (inter) at min(2·chunk_len − 1, chunk_size) plus a scalar rotation by phaseBase^(−(query_chunk − 1)).
 */
export function chunkedQueryAngle(g: ChunkedGeometry, p: number, keyChunk: number, omega: number): number {
  const chunkLen = g.chunkSize - g.localWindow;
  const qc = Math.floor(p / chunkLen);
  const m = p % chunkLen;
  if (keyChunk === qc) return m * omega;
  if (keyChunk === qc - 1) return Math.min(m + chunkLen, g.chunkSize) * omega;
  return Math.min(2 * chunkLen - 1, g.chunkSize) * omega + Math.pow(g.phaseBase, -(qc - 1));
}

/**
 * Attention of the released 3D-RPE code for nTokens queries at positions startPos…: `qRaw` [nTokens, nHeads·headDim]
 * is NOT rotated; `kCache` holds keys rotated at p mod chunk_len ([≥ startPos+nTokens, nKvHeads·headDim]), `vCache`
 * the values. For each (query, key) pair the query is rotated by chunkedQueryAngle for the key's chunk, the scores
 * (scaled by 1/√headDim) of all keys ≤ the query's position go through one softmax, all in double.
 */
export function attention3dRpeChunked(
  qRaw: Float32Array, kCache: Float32Array, vCache: Float32Array, nTokens: number, startPos: number,
  nHeads: number, nKvHeads: number, headDim: number, rope: RopeSpec, g: ChunkedGeometry,
): Float32Array {
  const kvDim = nKvHeads * headDim;
  const group = nHeads / nKvHeads;
  const chunkLen = g.chunkSize - g.localWindow;
  const out = new Float32Array(nTokens * nHeads * headDim);
  const freq = Array.from({ length: rope.dim / 2 }, (_, i) => ropePairFrequency(rope, i));
  for (let t = 0; t < nTokens; t++) {
    const p = startPos + t;
    for (let h = 0; h < nHeads; h++) {
      const qHead = qRaw.subarray((t * nHeads + h) * headDim, (t * nHeads + h + 1) * headDim);
      const kvOffset = Math.floor(h / group) * headDim;
      // The query rotated for a key chunk depends only on whether that chunk is the query's own, the previous or older.
      const rotated = new Map<number, Float32Array>();
      const queryFor = (keyChunk: number) => {
        const variant = Math.min(Math.floor(p / chunkLen) - keyChunk, 2);
        if (!rotated.has(variant)) {
          rotated.set(variant, rotatePairs(qHead, 1, 1, headDim, rope.dim, rope.style,
            (_t, i) => chunkedQueryAngle(g, p, keyChunk, freq[i]!.omega), (i) => freq[i]!.mscale));
        }
        return rotated.get(variant)!;
      };
      const scores = new Float64Array(p + 1);
      for (let kp = 0; kp <= p; kp++) {
        const qRot = queryFor(Math.floor(kp / chunkLen));
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += qRot[d]! * kCache[kp * kvDim + kvOffset + d]!;
        scores[kp] = dot / Math.sqrt(headDim);
      }
      const max = Math.max(...scores);
      let denom = 0;
      for (let kp = 0; kp <= p; kp++) denom += (scores[kp] = Math.exp(scores[kp]! - max));
      for (let d = 0; d < headDim; d++) {
        let acc = 0;
        for (let kp = 0; kp <= p; kp++) acc += scores[kp]! * vCache[kp * kvDim + kvOffset + d]!;
        out[(t * nHeads + h) * headDim + d] = acc / denom;
      }
    }
  }
  return out;
}
