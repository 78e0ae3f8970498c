// CrossQuant calibration (methods.md §3): the column absmax c_j of the activations entering each linear layer, over a
// calibration text run through the CPU reference forward, stored next to the model as a small GGUF sidecar; and the
// "quantization kernel" — the share of nonzero activations that int8 quantization maps to 0 — for per-token absmax
// (α = 1) and CrossQuant at other α.
import { dequantize, FormatError, quantize, readTensorBytes, writeGguf, type GgufFile, type GgufWriteTensor } from '@qgpu/formats';
import { loadReferenceModel, matmul, ReferenceLlama, type LinearHook, type LlamaConfig, type LlamaWeights } from '@qgpu/reference';
import { roundHalfEven } from './round.ts';

/** Per linear (GGUF tensor name) the column absmax of its input over the calibration tokens. */
export type ColumnAbsMax = Map<string, Float32Array>;

const SIDECAR_SUFFIX = '.col_absmax';
export const CALIBRATION_KEYS = { tokens: 'qgpu.calibration.tokens', kind: 'qgpu.calibration.kind' } as const;

/** Runs `tokens` through the reference model in windows of `window` tokens (each from an empty cache) with `hook`. */
export function runReference(config: LlamaConfig, weights: LlamaWeights, tokens: readonly number[], window: number, hook: LinearHook): void {
  const model = new ReferenceLlama(config, weights, hook);
  for (let at = 0; at < tokens.length; at += window) {
    model.reset();
    model.forward(tokens.slice(at, at + window), 0);
  }
}

/** c_j = max over calibration tokens of |x_tj| for the input of every linear. */
export function collectColumnAbsMax(config: LlamaConfig, weights: LlamaWeights, tokens: readonly number[], window = config.contextLength): ColumnAbsMax {
  const stats: ColumnAbsMax = new Map();
  runReference(config, weights, tokens, window, (name, w, x, rows, cols, n) => {
    const c = stats.get(name) ?? new Float32Array(cols);
    for (let t = 0; t < n; t++) for (let j = 0; j < cols; j++) c[j] = Math.max(c[j]!, Math.abs(x[t * cols + j]!));
    stats.set(name, c);
    return matmul(w, x, rows, cols, n);
  });
  return stats;
}

/** Loads a GGUF model on the CPU reference and collects the column absmax of every linear input over `tokens`. */
export async function calibrateModel(file: GgufFile, tokens: readonly number[]): Promise<ColumnAbsMax> {
  const { config, weights } = await loadReferenceModel(file);
  return collectColumnAbsMax(config, weights, tokens);
}

/** The sidecar file: one F32 tensor `NAME.col_absmax` [cols] per linear, plus the token count. */
export function writeCalibration(stats: ColumnAbsMax, tokenCount: number): Uint8Array {
  const tensors: GgufWriteTensor[] = [...stats].map(([name, c]) => ({
    name: name + SIDECAR_SUFFIX, ne: [c.length], typeId: 0, data: new Uint8Array(Float32Array.from(c).buffer),
  }));
  return writeGguf({
    'general.architecture': { type: 'string', value: 'qgpu-calibration' },
    [CALIBRATION_KEYS.kind]: { type: 'string', value: 'crossquant-column-absmax' },
    [CALIBRATION_KEYS.tokens]: { type: 'u32', value: tokenCount },
  }, tensors);
}

export async function readCalibration(file: GgufFile): Promise<ColumnAbsMax> {
  if (file.metadata.get(CALIBRATION_KEYS.kind) !== 'crossquant-column-absmax') {
    throw new FormatError(`${file.source.name}: not a qgpu CrossQuant calibration file (run \`pnpm qgpu calibrate\`)`);
  }
  const stats: ColumnAbsMax = new Map();
  for (const t of file.tensors) {
    if (!t.name.endsWith(SIDECAR_SUFFIX) || t.typeName !== 'F32') throw new FormatError(`${file.source.name}: unexpected tensor '${t.name}'`);
    stats.set(t.name.slice(0, -SIDECAR_SUFFIX.length), new Float32Array((await readTensorBytes(file, t)).slice().buffer));
  }
  return stats;
}

/**
 * W·diag(c^(1−α)) for W [rows, cols] (f32): CrossQuant's column factor moved out of the activations into the weight's
 * input columns before the weight is quantized (methods.md §3.3). c_j = 0 (never active) leaves the column as is,
 * since its activations quantize to 0 anyway.
 */
export function foldColumnPower(w: Float32Array, rows: number, cols: number, colMax: Float32Array, alpha: number): Float32Array {
  if (w.length !== rows * cols || colMax.length !== cols) throw new RangeError(`foldColumnPower: shape mismatch (${w.length} values, ${colMax.length} columns)`);
  const factor = Float64Array.from(colMax, (c) => (c > 0 ? c ** (1 - alpha) : 1));
  return Float32Array.from(w, (v, i) => v * factor[i % cols]!);
}

/** Counts of the quantization kernel: nonzero elements, and those of them whose int8 code is 0. */
export interface KernelCount {
  nonzero: number;
  zeroed: number;
}

/**
 * Int8 codes of x [n, cols] with the CrossQuant scale Δ_tj = t_t^α·c_j^(1−α)/127 (t_t the token's absmax; α = 1 is
 * per-token absmax), q = clamp(round_half_even(x/Δ), ±127), in f64; returns x̂ = q·Δ and adds to `count`.
 * c_j = 0 (a column never active in calibration) gives code 0, as the kernel does.
 */
export function crossQuantFake(x: Float32Array, n: number, cols: number, colMax: Float32Array | undefined, alpha: number, count?: KernelCount): Float32Array {
  const out = new Float32Array(x.length);
  for (let t = 0; t < n; t++) {
    let rowMax = 0;
    for (let j = 0; j < cols; j++) rowMax = Math.max(rowMax, Math.abs(x[t * cols + j]!));
    const rowScale = alpha === 0 ? 1 : rowMax ** alpha;
    for (let j = 0; j < cols; j++) {
      const v = x[t * cols + j]!;
      const colScale = alpha === 1 || !colMax ? 1 : colMax[j]! ** (1 - alpha);
      const delta = (rowScale * colScale) / 127;
      const q = delta > 0 ? Math.max(-127, Math.min(127, roundHalfEven(v / delta))) : 0;
      out[t * cols + j] = q * delta;
      if (count && v !== 0) {
        count.nonzero++;
        if (q === 0) count.zeroed++;
      }
    }
  }
  return out;
}

/** Per linear input (tensor name) and overall, the kernel counts under one activation quantizer. */
export interface KernelReport {
  readonly alpha: number;
  readonly perLinear: Map<string, KernelCount>;
  readonly overall: KernelCount;
}

/**
 * Runs the reference model with every linear's input fake-quantized to int8 (CrossQuant with `alpha`; α = 1 is
 * per-token) and returns the kernel counts per linear and overall. Only inputs of linears listed in `int8Linears` are
 * quantized (the others — e.g. widths that are no whole 32-blocks — stay f32, as on the GPU).
 */
export function kernelReport(
  config: LlamaConfig, weights: LlamaWeights, tokens: readonly number[], stats: ColumnAbsMax, alpha: number, int8Linears: ReadonlySet<string>, window = config.contextLength,
): KernelReport {
  const perLinear = new Map<string, KernelCount>();
  const overall: KernelCount = { nonzero: 0, zeroed: 0 };
  runReference(config, weights, tokens, window, (name, w, x, rows, cols, n) => {
    if (!int8Linears.has(name)) return matmul(w, x, rows, cols, n);
    const count = perLinear.get(name) ?? { nonzero: 0, zeroed: 0 };
    perLinear.set(name, count);
    const before = { ...count };
    const xq = crossQuantFake(x, n, cols, stats.get(name), alpha, count);
    overall.nonzero += count.nonzero - before.nonzero;
    overall.zeroed += count.zeroed - before.zeroed;
    return matmul(w, xq, rows, cols, n);
  });
  return { alpha, perLinear, overall };
}

/**
 * The W8A8 CrossQuant model on the CPU reference, as the dp4a path computes it (methods.md §3.3): for every linear
 * accepted by `int8`, the weight is stored as Q8_0 of W·diag(c^(1−α)) (α = 1: the weight as loaded) and its input
 * x is replaced by q·t^α/127 with q the CrossQuant code, so W'·(q·t^α/127) ≈ W·x. Kernel counts per linear and
 * overall accumulate in the returned objects. Weights arrive dequantized (Q8_0 files: exactly the stored values).
 */
export function crossQuantHook(stats: ColumnAbsMax, alpha: number, int8: (name: string, cols: number) => boolean): { hook: LinearHook; perLinear: Map<string, KernelCount>; overall: KernelCount } {
  const perLinear = new Map<string, KernelCount>();
  const overall: KernelCount = { nonzero: 0, zeroed: 0 };
  const folded = new Map<string, Float32Array>();
  const hook: LinearHook = (name, w, x, rows, cols, n) => {
    if (!int8(name, cols)) return matmul(w, x, rows, cols, n);
    const c = alpha === 1 ? undefined : stats.get(name);
    let weight = w;
    if (c) {
      weight = folded.get(name) ?? Float32Array.from(dequantize('Q8_0', quantize('Q8_0', foldColumnPower(w, rows, cols, c, alpha)), rows * cols));
      folded.set(name, weight);
    }
    const count = perLinear.get(name) ?? { nonzero: 0, zeroed: 0 };
    perLinear.set(name, count);
    const [nz, z] = [count.nonzero, count.zeroed];
    const xq = crossQuantFake(x, n, cols, c, alpha, count);
    overall.nonzero += count.nonzero - nz;
    overall.zeroed += count.zeroed - z;
    const activation = c ? Float32Array.from(xq, (v, i) => (c[i % cols]! > 0 ? v / c[i % cols]! ** (1 - alpha) : 0)) : xq;
    return matmul(weight, activation, rows, cols, n);
  };
  return { hook, perLinear, overall };
}
