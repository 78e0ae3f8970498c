// Position encodings (docs/position-encoding.md). Every encoding is a cos/sin table in one layout — [rows, rope_dim/2]
// of (cos, sin), row = absolute token position — computed once in double on the CPU and uploaded, so the one rope kernel
// (override NEOX: adjacent pairs, or pairs (i, i + d/2)) serves all of them and the KV cache holds
// keys already encoded (nothing is ever re-rotated). The released 3D-RPE code's chunked mode adds three query tables
// in the same layout, read by its own attention kernel (attention_3drpe_chunked).
import { FormatError, metaNumber, metaString, printable, type GgufFile } from '@qgpu/formats';

/** Which dims form a rotated pair: 'norm' = GGUF llama (x[2i], x[2i+1]); 'neox' = rotate_half (x[i], x[i + d/2]). */
export type RopeStyle = 'norm' | 'neox';

/** Frequency scaling from GGUF `rope.scaling.*` (llama.cpp's semantics; YaRN as in ggml's rope_yarn). */
export type RopeScaling =
  | { readonly type: 'none' }
  | { readonly type: 'linear'; readonly factor: number }
  | {
    readonly type: 'yarn';
    readonly factor: number;
    /** Context the model was trained at before extension (rope.scaling.original_context_length). */
    readonly originalContext: number;
    /** Extra factor on cos/sin (rope.scaling.attn_factor / yarn_attn_factor, default 1). */
    readonly attnFactor: number;
    readonly betaFast: number;
    readonly betaSlow: number;
    /** Weight of the extrapolation ramp (rope.scaling.yarn_ext_factor; llama.cpp uses 1 for YaRN when unset). */
    readonly extFactor: number;
  };

/** How a model rotates q and k: rotated dims (rope.dimension_count ≤ head_dim), pair style, base and scaling. */
export interface RopeConfig {
  readonly style: RopeStyle;
  readonly dim: number;
  readonly freqBase: number;
  readonly scaling: RopeScaling;
}

/**
 * The position encoding chosen at load: the model's own RoPE; linear position interpolation by `factor` (replacing
 * the model's scaling); or 3D-RPE with chunk size c, either as paper Eq. 4 ('eq4': rotate by m·θ_l + π/2 − φ_j with
 * m = p mod c, φ_j = phaseBase^(−j); `interpolate` applies Theorem 1's chunk size c′ = ⌈L / ⌈L_p/c⌉⌉) or as the
 * released code's chunked attention ('chunked': chunk_len = c − localWindow, three query rotations, one softmax).
 */
export type PositionEncoding =
  | { readonly type: 'rope' }
  | { readonly type: 'linear'; readonly factor: number }
  | {
    readonly type: '3d-rpe';
    readonly chunkSize: number;
    readonly mode: 'eq4' | 'chunked';
    readonly interpolate?: boolean;
    /** φ_j's base (default 10000, as the released code keeps for every model). */
    readonly phaseBase?: number;
    /** 'chunked' only: local window (default ⌊trained context / 16⌋, as the released code); chunk_len = c − window. */
    readonly localWindow?: number;
  };

/** Architectures whose rotation style llama.cpp fixes (llama_model_rope_type); the tensor layout is checked elsewhere. */
const ROPE_STYLE_BY_ARCHITECTURE: Readonly<Record<string, RopeStyle>> = {
  llama: 'norm',
  qwen2: 'neox',
};

/** Reads the RoPE description of `arch` from GGUF metadata (defaults as llama.cpp: base 10000, all head dims, no scaling). */
export function ropeConfigFromGguf(file: GgufFile, arch: string, headDim: number, contextLength: number): RopeConfig {
  const name = file.source.name;
  const key = (k: string) => `${arch}.${k}`;
  const style = ROPE_STYLE_BY_ARCHITECTURE[arch];
  if (!style) throw new FormatError(`${name}: no known RoPE style for architecture ${printable(arch)}`, 'unsupported');
  const dim = metaNumber(file, key('rope.dimension_count'), headDim);
  const freqBase = metaNumber(file, key('rope.freq_base'), 10000);
  if (!Number.isInteger(dim) || dim <= 0 || dim % 2 !== 0 || dim > headDim) {
    throw new FormatError(`${name}: ${key('rope.dimension_count')} = ${dim} must be even, positive and ≤ head_dim ${headDim}`, 'bad_metadata');
  }
  if (!(freqBase > 0) || !Number.isFinite(freqBase)) throw new FormatError(`${name}: ${key('rope.freq_base')} = ${freqBase} must be a positive number`, 'bad_metadata');
  // Older converters wrote only rope.scale_linear (a linear factor); newer ones rope.scaling.type + factor.
  const legacyLinear = metaNumber(file, key('rope.scale_linear'), 1);
  const type = metaString(file, key('rope.scaling.type'), legacyLinear !== 1 ? 'linear' : 'none');
  const factor = metaNumber(file, key('rope.scaling.factor'), legacyLinear);
  const checkFactor = () => {
    if (!(factor > 0)) throw new FormatError(`${name}: ${key('rope.scaling.factor')} = ${factor} must be > 0`, 'bad_metadata');
  };
  let scaling: RopeScaling;
  switch (type) {
    case 'none':
      scaling = { type: 'none' };
      break;
    case 'linear':
      checkFactor();
      scaling = factor === 1 ? { type: 'none' } : { type: 'linear', factor };
      break;
    case 'yarn':
      checkFactor();
      scaling = {
        type: 'yarn',
        factor,
        originalContext: metaNumber(file, key('rope.scaling.original_context_length'), contextLength),
        attnFactor: metaNumber(file, key('rope.scaling.yarn_attn_factor'), metaNumber(file, key('rope.scaling.attn_factor'), 1)),
        betaFast: metaNumber(file, key('rope.scaling.yarn_beta_fast'), 32),
        betaSlow: metaNumber(file, key('rope.scaling.yarn_beta_slow'), 1),
        extFactor: metaNumber(file, key('rope.scaling.yarn_ext_factor'), 1),
      };
      break;
    default:
      throw new FormatError(`${name}: ${key('rope.scaling.type')} '${type}' is not supported (none, linear, yarn)`, 'unsupported');
  }
  return { style, dim, freqBase, scaling };
}

/**
 * Per rotated pair i: the angle per position ω_i (radians) and the factor on cos/sin. θ_i = base^(−2i/dim); linear
 * scaling divides by the factor; YaRN (ggml rope_yarn, restated): between the "correction dims" of β_fast and
 * β_slow turns over the original context, a ramp r_i ∈ [0, 1] (1 for the fast, high-frequency pairs) mixes
 * ω_i = θ_i·((1 − r_i·ext)/factor + r_i·ext), and cos/sin are scaled by attn_factor·(1 + 0.1·ln factor).
 */
export function ropeFrequencies(rope: RopeConfig): { readonly omega: Float64Array; readonly mscale: number } {
  const half = rope.dim / 2;
  const omega = Float64Array.from({ length: half }, (_, i) => Math.pow(rope.freqBase, (-2 * i) / rope.dim));
  const s = rope.scaling;
  if (s.type === 'none') return { omega, mscale: 1 };
  if (s.type === 'linear') return { omega: omega.map((w) => w / s.factor), mscale: 1 };
  // The pair index at which the rotation makes `turns` full turns over the original context.
  const pairAtTurns = (turns: number) => (rope.dim * Math.log(s.originalContext / (turns * 2 * Math.PI))) / (2 * Math.log(rope.freqBase));
  const low = Math.max(0, Math.floor(pairAtTurns(s.betaFast)));
  const high = Math.min(rope.dim - 1, Math.ceil(pairAtTurns(s.betaSlow)));
  const yarnOmega = omega.map((theta, i) => {
    const ramp = 1 - Math.min(1, Math.max(0, (i - low) / Math.max(0.001, high - low)));
    const mix = ramp * s.extFactor;
    return (theta / s.factor) * (1 - mix) + theta * mix;
  });
  const mscale = s.attnFactor * (s.extFactor !== 0 ? 1 + 0.1 * Math.log(s.factor) : 1);
  return { omega: yarnOmega, mscale };
}

/**
 * The one table layout: rows × pairs of (cos a, sin a)·mscale with a = position(row)·ω_i + phase(row), all in double,
 * stored f32. Each encoding below is this function with its own position and phase per row.
 */
function angleTable(
  rope: RopeConfig, rows: number, position: (row: number) => number, phase: (row: number) => number,
): Float32Array<ArrayBuffer> {
  const { omega, mscale } = ropeFrequencies(rope);
  const half = rope.dim / 2;
  const table = new Float32Array(rows * half * 2);
  for (let row = 0; row < rows; row++) {
    const [m, extra] = [position(row), phase(row)];
    for (let i = 0; i < half; i++) {
      const angle = m * omega[i]! + extra;
      table[(row * half + i) * 2] = Math.cos(angle) * mscale;
      table[(row * half + i) * 2 + 1] = Math.sin(angle) * mscale;
    }
  }
  return table;
}

/** RoPE (with the model's scaling): row p holds angle p·ω_i. */
export function ropeTable(rope: RopeConfig, seqLen: number): Float32Array<ArrayBuffer> {
  return angleTable(rope, seqLen, (p) => p, () => 0);
}

/** Linear position interpolation: row p holds angle (p / factor)·θ_i — RoPE's positions compressed by `factor`. */
export function linearInterpolationTable(rope: RopeConfig, seqLen: number, factor: number): Float32Array<ArrayBuffer> {
  return angleTable({ ...rope, scaling: { type: 'none' } }, seqLen, (p) => p / factor, () => 0);
}

/**
 * 3D-RPE, paper Eq. 4: h̃ = e^{imθ}(cos φ_j·h^⊥ + sin φ_j·h) is, per pair, a rotation by m·θ_l + π/2 − φ_j
 * (methods.md §4.1), with j = ⌊p/c⌋, m = p mod c, φ_j = phaseBase^(−j). q and k use the same table; the π/2 cancels
 * in q·k but is kept so the stored keys are Eq. 4's vectors exactly.
 */
export function threeDRpeEq4Table(rope: RopeConfig, seqLen: number, chunkSize: number, phaseBase: number): Float32Array<ArrayBuffer> {
  return angleTable(rope, seqLen, (p) => p % chunkSize, (p) => Math.PI / 2 - Math.pow(phaseBase, -Math.floor(p / chunkSize)));
}

/** The released code's chunk geometry: chunk_len = chunkSize − localWindow. */
export interface ChunkedGeometry {
  readonly chunkSize: number;
  readonly chunkLen: number;
  readonly phaseBase: number;
}

/** Released 3D-RPE code, keys: RoPE at p mod chunk_len (never re-rotated, whatever the query). */
export function chunkedKeyTable(rope: RopeConfig, seqLen: number, g: ChunkedGeometry): Float32Array<ArrayBuffer> {
  return angleTable(rope, seqLen, (p) => p % g.chunkLen, () => 0);
}

/**
 * Released 3D-RPE code, queries: three tables [3, seq_len, pairs] for a query at position p (m = p mod chunk_len,
 * query chunk qc = ⌊p/chunk_len⌋) against keys in its own chunk (intra: m), the previous chunk (successive:
 * min(m + chunk_len, chunk_size)) and older chunks (inter: min(2·chunk_len − 1, chunk_size), plus the scalar
 * rotation phaseBase^(−(qc − 1)) the code applies as `q·cos φ + rotate_half(q)·sin φ`).
 */
export function chunkedQueryTables(rope: RopeConfig, seqLen: number, g: ChunkedGeometry): Float32Array<ArrayBuffer> {
  const { chunkLen, chunkSize, phaseBase } = g;
  const half = rope.dim / 2;
  const tables = new Float32Array(3 * seqLen * half * 2);
  tables.set(angleTable(rope, seqLen, (p) => p % chunkLen, () => 0), 0);
  tables.set(angleTable(rope, seqLen, (p) => Math.min((p % chunkLen) + chunkLen, chunkSize), () => 0), seqLen * half * 2);
  tables.set(angleTable(rope, seqLen, () => Math.min(2 * chunkLen - 1, chunkSize),
    (p) => Math.pow(phaseBase, -(Math.floor(p / chunkLen) - 1))), 2 * seqLen * half * 2);
  return tables;
}

/** What the forward pass needs for an encoding: the q/k tables and, for the chunked mode, its geometry. */
export type PositionTables =
  | { readonly kind: 'rotate'; readonly table: Float32Array<ArrayBuffer> }
  | { readonly kind: 'chunked'; readonly keyTable: Float32Array<ArrayBuffer>; readonly queryTables: Float32Array<ArrayBuffer>; readonly geometry: ChunkedGeometry };

/**
 * Checks an encoding against the model and the loaded context `seqLen` (the trained context is `trainedContext`) and
 * builds its tables. Throws a RangeError naming the bad field.
 */
export function positionTables(rope: RopeConfig, encoding: PositionEncoding, seqLen: number, trainedContext: number): PositionTables {
  switch (encoding.type) {
    case 'rope':
      return { kind: 'rotate', table: ropeTable(rope, seqLen) };
    case 'linear':
      if (!(encoding.factor > 0) || !Number.isFinite(encoding.factor)) throw new RangeError(`positionEncoding.factor must be > 0, got ${encoding.factor}`);
      return { kind: 'rotate', table: linearInterpolationTable(rope, seqLen, encoding.factor) };
    case '3d-rpe': {
      const { chunkSize, mode } = encoding;
      const phaseBase = encoding.phaseBase ?? 10000;
      if (!Number.isInteger(chunkSize) || chunkSize < 2) throw new RangeError(`positionEncoding.chunkSize must be an integer ≥ 2, got ${chunkSize}`);
      if (!(phaseBase > 1)) throw new RangeError(`positionEncoding.phaseBase must be > 1, got ${phaseBase}`);
      if (mode === 'eq4') {
        if (encoding.localWindow !== undefined) throw new RangeError("positionEncoding.localWindow applies to mode 'chunked' only");
        const chunk = encoding.interpolate ? theorem1ChunkSize(chunkSize, trainedContext, seqLen) : chunkSize;
        return { kind: 'rotate', table: threeDRpeEq4Table(rope, seqLen, chunk, phaseBase) };
      }
      if (mode !== 'chunked') throw new RangeError(`positionEncoding.mode must be 'eq4' or 'chunked', got '${String(mode)}'`);
      if (encoding.interpolate) throw new RangeError("positionEncoding.interpolate applies to mode 'eq4' only");
      const localWindow = encoding.localWindow ?? Math.floor(trainedContext / 16);
      if (!Number.isInteger(localWindow) || localWindow < 0 || localWindow >= chunkSize) {
        const source = encoding.localWindow === undefined ? ` (the default, trained context ${trainedContext} / 16; pass a smaller localWindow)` : '';
        throw new RangeError(`positionEncoding.localWindow must be an integer in [0, chunkSize = ${chunkSize}), got ${localWindow}${source}`);
      }
      const geometry = { chunkSize, chunkLen: chunkSize - localWindow, phaseBase };
      return { kind: 'chunked', keyTable: chunkedKeyTable(rope, seqLen, geometry), queryTables: chunkedQueryTables(rope, seqLen, geometry), geometry };
    }
    default:
      throw new RangeError(`positionEncoding.type must be 'rope', 'linear' or '3d-rpe', got '${String((encoding as { type: unknown }).type)}'`);
  }
}

/**
 * Theorem 1 (position interpolation with chunks): keep the n = ⌈L_p/c⌉ chunks of the trained context and spread the
 * L tokens over them, c′ = ⌈L/n⌉; the in-chunk range [0, c′) must stay within the trained positions (c′ ≤ L_p) and
 * c′ ≥ 3 (the theorem's condition).
 */
export function theorem1ChunkSize(chunkSize: number, trainedContext: number, context: number): number {
  const chunks = Math.ceil(trainedContext / chunkSize);
  const spread = Math.ceil(context / chunks);
  const effective = Math.max(chunkSize, spread);
  if (effective > trainedContext || effective < 3) {
    throw new RangeError(`3D-RPE interpolation: ${chunks} chunk(s) of ${chunkSize} spread over ${context} tokens need chunks of ${effective}, `
      + `outside [3, ${trainedContext}] (the trained context); use a smaller chunkSize`);
  }
  return effective;
}
