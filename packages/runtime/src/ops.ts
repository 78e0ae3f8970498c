// One function per op: check shapes, choose the kernel variant, record a dispatch. Geometry never depends on the
// token position, so a plan stays valid for every step.
import { elementCount, type GpuTensor, type PlanBuilder } from '@qgpu/gpu';
import * as kernels from '@qgpu/shaders';
import type { KernelPath } from './engine-api.ts';
import type { Weight } from './llama/weight.ts';

export type { KernelPath };

/** Activations quantized to int8 per block of 32 (shaders/lib/quant/q8_act.wgsl): [n, cols/4] u32, [n, cols/32] f32 ×2. */
export interface Int8Activations {
  readonly xq: GpuTensor;
  readonly xd: GpuTensor;
  readonly xs: GpuTensor;
}

/** T-MAC tables of one linear input (lut_build, methods.md §5): [n, cols/4, 8] f32 odd entries, [n, cols/32] f32 Σx. */
export interface LutActivations {
  readonly tables: GpuTensor;
  readonly sums: GpuTensor;
}

/** Checks a kernel-path option coming from outside TypeScript's reach (CLI flags, worker messages). */
export function checkKernelPath(path: string): KernelPath {
  if (path === 'dequant' || path === 'dp4a' || path === 'lut') return path;
  throw new Error(`unknown kernel path '${path}' (expected 'dequant', 'dp4a' or 'lut')`);
}

function assertNever(x: never): never {
  throw new Error(`unhandled variant ${JSON.stringify(x)}`);
}

/** Views the first `rows` rows of a [chunk, …] activation tensor (the decode plan uses row 0 only). */
export function rowsOf(t: GpuTensor, rows: number): GpuTensor {
  const [, ...inner] = t.shape;
  return { ...t, shape: [rows, ...inner] };
}

/** Splits a large 1-D workgroup count over x and y so neither exceeds the per-dimension limit. */
function split(count: number, limit: number): [number, number] {
  const x = Math.min(count, limit);
  return [x, Math.ceil(count / x)];
}

/** out[t] = embedding row of tokens[t]. */
export function embed(p: PlanBuilder, table: Weight, tokens: GpuTensor, out: GpuTensor, nTokens: number): void {
  const [vocabSize, dim] = [table.rows, table.cols];
  const wg = kernels.embed_f32.overrides.WG_SIZE;
  const spec = { params: { dim, vocab_size: vocabSize }, workgroups: [Math.ceil(dim / wg), nTokens] as const };
  switch (table.format) {
    case 'f32': return p.dispatch(kernels.embed_f32, { ...spec, bindings: { tokens, table: table.data, out } });
    case 'f16': return p.dispatch(kernels.embed_f16, { ...spec, bindings: { tokens, table: table.data, out } });
    case 'q8_0': return p.dispatch(kernels.embed_q8_0, { ...spec, bindings: { tokens, out, ...table.parts } });
    case 'q4_0': return p.dispatch(kernels.embed_q4_0, { ...spec, bindings: { tokens, out, ...table.parts } });
    case 'q4_1': return p.dispatch(kernels.embed_q4_1, { ...spec, bindings: { tokens, out, ...table.parts } });
    case 'q5_0': return p.dispatch(kernels.embed_q5_0, { ...spec, bindings: { tokens, out, ...table.parts } });
    case 'q5_1': return p.dispatch(kernels.embed_q5_1, { ...spec, bindings: { tokens, out, ...table.parts } });
    case 'q4_k': return p.dispatch(kernels.embed_q4_k, { ...spec, bindings: { tokens, out, ...table.parts } });
    case 'q6_k': return p.dispatch(kernels.embed_q6_k, { ...spec, bindings: { tokens, out, ...table.parts } });
    case 'lut': throw new Error('a LUT weight cannot be an embedding table: only linears are converted to the LUT format');
    default: return assertNever(table);
  }
}

/** out[r] = rms_norm(x[r]) · weight for the first nTokens rows. */
export function rmsNorm(p: PlanBuilder, x: GpuTensor, weight: GpuTensor, out: GpuTensor, nTokens: number, eps: number): void {
  const dim = weight.shape[0]!;
  p.dispatch(kernels.rms_norm, { params: { dim, eps }, bindings: { x, weight, out }, workgroups: [nTokens] });
}

/** Whether `w` carries SINQ's per-input-column scale t (methods.md §2.5), i.e. reads x ⊙ t instead of x. */
export function hasColumnScale(w: Weight): boolean {
  return w.format === 'lut' && w.inputScale !== undefined;
}

/**
 * out = x ⊙ t [nTokens, cols] in `scratch` when the linears in `readers` carry SINQ's per-input-column scale t
 * (methods.md §2.5: one linear, or the row pieces of one split linear, which share its t tensor); returns x itself when
 * they carry none. Out of place: every SINQ linear has its own t, and the other readers of x still need x.
 */
export function inputColumnScale(p: PlanBuilder, x: GpuTensor, readers: readonly Weight[], scratch: GpuTensor | undefined, nTokens: number): GpuTensor {
  const scales = new Set(readers.map((w) => (w.format === 'lut' ? w.inputScale : undefined)));
  if (scales.size > 1) throw new Error(`linears given one scaled input carry different column scales (${readers.length} readers)`);
  const [scale] = scales;
  if (!scale) return x;
  if (!scratch) throw new Error('a SINQ weight needs the scaled-input buffer of the workspace (lut kernel path)');
  const cols = scale.shape[0]!;
  const n = nTokens * cols;
  if (n > elementCount(scratch.shape)) throw new Error(`scaled input [${nTokens}, ${cols}] does not fit the workspace buffer [${scratch.shape}]`);
  const out: GpuTensor = { ...scratch, shape: [nTokens, cols] };
  p.dispatch(kernels.scale_columns, { params: { cols, n }, bindings: { scale, x, out }, workgroups: [Math.ceil(n / kernels.scale_columns.overrides.WG_SIZE)], label: 'scale_columns' });
  return out;
}

/**
 * The readers of one input whose int8 codes / T-MAC tables are prepared once, before them all: those without a SINQ t
 * (a SINQ linear prepares its own scaled copy just before it). A mix is rejected: the scaled copies' tables would
 * overwrite the shared ones before the unscaled readers run.
 */
export function sharedInputReaders(readers: readonly Weight[]): Weight[] {
  const unscaled = readers.filter((w) => !hasColumnScale(w));
  if (unscaled.length !== 0 && unscaled.length !== readers.length) throw new Error(`linears sharing one input mix SINQ column scales and none (${readers.length} readers)`);
  return unscaled;
}

/** Whether the plan's device has the `subgroups` feature, which the *_sg GEMV variants need. */
export function hasSubgroups(p: PlanBuilder): boolean {
  return p.ctx.features.has('subgroups');
}

/** Whether `w` has an integer-dot kernel, i.e. whether linear() uses int8 activations for it. */
export function hasInt8Kernel(w: Weight): boolean {
  return w.format === 'q8_0' || w.format === 'q4_0' || w.format === 'q4_k';
}

/**
 * With the dp4a path, quantizes x [nTokens, cols] to int8 once for all the linears in `readers` that have an
 * integer-dot kernel, and returns the int8 activations to pass to their linear() calls; undefined when none needs them.
 */
export function int8Input(
  p: PlanBuilder, path: KernelPath, x: GpuTensor, readers: readonly Weight[], scratch: Int8Activations | undefined, nTokens: number,
): Int8Activations | undefined {
  if (path !== 'dp4a' || !readers.some(hasInt8Kernel)) return undefined;
  if (!scratch) throw new Error('the dp4a kernel path needs int8 activation buffers in the workspace');
  const cols = readers[0]!.cols;
  if (readers.some((w) => w.cols !== cols)) throw new Error(`linears sharing one input disagree on its width (${readers.map((w) => w.cols).join(', ')})`);
  const cross = new Set(readers.map((w) => ('crossQuant' in w ? w.crossQuant : undefined)));
  if (cross.size > 1) throw new Error(`linears sharing one input disagree on CrossQuant calibration (${readers.length} readers)`);
  const [cq] = cross;
  if (cq) {
    // CrossQuant (methods.md §3): one workgroup per token; the weights already carry c^(1−α) on their columns.
    p.dispatch(kernels.quantize_act_crossquant, {
      params: { cols, alpha: cq.alpha }, bindings: { x, col_max: cq.colMax, ...scratch, zero_count: cq.zeroCount }, workgroups: [nTokens], label: 'quantize_act_crossquant',
    });
    return scratch;
  }
  const nBlocks = (nTokens * cols) / 32;
  const [wx, wy] = split(Math.ceil(nBlocks / kernels.quantize_act_q8.overrides.WG_SIZE), p.ctx.limits.maxComputeWorkgroupsPerDimension);
  p.dispatch(kernels.quantize_act_q8, { params: { n_blocks: nBlocks }, bindings: { x, ...scratch }, workgroups: [wx, wy], label: 'quantize_act_q8' });
  return scratch;
}

/**
 * With the lut path, builds the tables of x [nTokens, cols] once for all the LUT linears in `readers` and returns
 * them for their linear() calls; undefined when none is a LUT weight.
 */
export function lutInput(
  p: PlanBuilder, path: KernelPath, x: GpuTensor, readers: readonly Weight[], scratch: LutActivations | undefined, nTokens: number,
): LutActivations | undefined {
  if (path !== 'lut' || !readers.some((w) => w.format === 'lut')) return undefined;
  if (!scratch) throw new Error('the lut kernel path needs table buffers in the workspace');
  const cols = readers[0]!.cols;
  if (readers.some((w) => w.cols !== cols)) throw new Error(`linears sharing one input disagree on its width (${readers.map((w) => w.cols).join(', ')})`);
  const wg = kernels.lut_build.overrides.WG_SIZE;
  p.dispatch(kernels.lut_build, { params: { cols }, bindings: { x, ...scratch }, workgroups: [Math.ceil(cols / 4 / wg), 1, nTokens], label: 'lut_build' });
  return scratch;
}

/** What a linear does with y = W·x[t] (docs/performance.md "Fusions"; shaders/lib/body/epilogue.wgsl). */
export type LinearEpilogue =
  /** out[t, r] = y[r] (the default). */
  | { readonly kind: 'store' }
  /** out[t, r] += y[r]: the residual add, out being the residual stream x. */
  | { readonly kind: 'add' }
  /** W's rows are interleaved gate/up pairs (gate_0, up_0, gate_1, up_1, …): out[t, i] = silu(y[2i]) · y[2i+1], out is [n, rows/2]. */
  | { readonly kind: 'glu' }
  /**
   * W = [Wq; Wk; Wv] stacked by rows (rows = a + b + c); out is one region holding the blocks [n, a], [n, b], [n, c]:
   * row r < a → out[t·a + r]; a ≤ r < a+b → out[n·a + t·b + (r−a)]; else → out[n·(a+b) + t·c + (r−a−b)].
   */
  | { readonly kind: 'split'; readonly segmentRows: readonly [number, number, number] };

const STORE: LinearEpilogue = { kind: 'store' };

/** The override constants of shaders/lib/body/epilogue.wgsl, common to every linear kernel. */
type EpilogueOverrides = { readonly EPILOGUE: number; readonly SPLIT_A: number; readonly SPLIT_B: number };

/**
 * The epilogue's override constants and output slots (weight rows, or gate/up row pairs for glu), after checking that
 * W and out fit it.
 */
function epilogueSpec(w: Weight, out: GpuTensor, nTokens: number, epilogue: LinearEpilogue, label: string): { overrides: EpilogueOverrides; slots: number } {
  const outElements = elementCount(out.shape);
  const fits = (cols: number) => {
    if (outElements < nTokens * cols) throw new Error(`${label}: out [${out.shape}] is smaller than [${nTokens}, ${cols}] (${epilogue.kind} epilogue)`);
  };
  switch (epilogue.kind) {
    case 'store': return { overrides: { EPILOGUE: 0, SPLIT_A: 0, SPLIT_B: 0 }, slots: w.rows };
    case 'add':
      fits(w.rows);
      return { overrides: { EPILOGUE: 1, SPLIT_A: 0, SPLIT_B: 0 }, slots: w.rows };
    case 'glu':
      if (w.rows % 2 !== 0) throw new Error(`${label}: a glu epilogue needs interleaved gate/up rows, got an odd row count ${w.rows}`);
      fits(w.rows / 2);
      return { overrides: { EPILOGUE: 2, SPLIT_A: 0, SPLIT_B: 0 }, slots: w.rows / 2 };
    case 'split': {
      const [a, b, c] = epilogue.segmentRows;
      if (![a, b, c].every((n) => Number.isInteger(n) && n > 0) || a + b + c !== w.rows) {
        throw new Error(`${label}: split segments [${a}, ${b}, ${c}] do not partition the ${w.rows} rows`);
      }
      fits(w.rows);
      return { overrides: { EPILOGUE: 3, SPLIT_A: a, SPLIT_B: b }, slots: w.rows };
    }
    default: return assertNever(epilogue);
  }
}

/**
 * Lanes per output row of the decode GEMVs (override THREADS_PER_ROW, lib/body/gemv_rows.wgsl) for rows of `cols`
 * columns: 4, so a 64-lane workgroup computes 16 rows (fewer lanes only for rows of fewer than four 32-column units,
 * which would leave lanes idle). Measured on lavapipe and SwiftShader over 1, 2, 4, 8, 16, 32 and 64 lanes on decode
 * shapes 576..8192 columns wide (docs/performance.md "Decode GEMV: rows per workgroup"): 4 lanes is within noise of the
 * best setting on every shape and 1.2–13× faster than one row per workgroup (64 lanes).
 */
export function gemvThreadsPerRow(cols: number): number {
  const units = Math.ceil(cols / 32);
  return Math.min(4, 2 ** Math.ceil(Math.log2(units)));
}

/**
 * out[t] = W · x[t]; given `x8` (x quantized by int8Input), Q8_0/Q4_0/Q4_K weights use the integer-dot kernels (the
 * tiled int8 GEMM for a prefill chunk, the GEMV per token for decode). LUT
 * weights need `xl` (x's tables from lutInput) and run lut_gemv for every token of the chunk at once (z = token).
 * Every path applies `epilogue` to y as it stores it (LinearEpilogue).
 */
export function linear(
  p: PlanBuilder, w: Weight, x: GpuTensor, out: GpuTensor, nTokens: number, label: string, x8?: Int8Activations, xl?: LutActivations,
  epilogue: LinearEpilogue = STORE,
): void {
  const { overrides, slots } = epilogueSpec(w, out, nTokens, epilogue, label);
  if (w.format === 'lut') {
    if (!xl) throw new Error(`${label}: a LUT weight needs the tables of its input (lutInput)`);
    const chunks = Math.ceil(w.rows / kernels.lut_gemv.overrides.ROWS_PER_WG);
    const [cx, cy] = split(chunks, p.ctx.limits.maxComputeWorkgroupsPerDimension);
    return p.dispatch(kernels.lut_gemv, {
      params: { rows: w.rows, cols: w.cols, group: w.group },
      bindings: { ...xl, out, ...w.parts },
      // ROWS_PER_WG (32) is even, so a glu pair never straddles two workgroups.
      overrides: { BITS: w.bits, ...overrides },
      workgroups: [cx, cy, nTokens],
      label,
    });
  }
  // The decode GEMVs: WG_SIZE / THREADS_PER_ROW output slots per workgroup (lib/body/gemv_rows.wgsl).
  const threadsPerRow = gemvThreadsPerRow(w.cols);
  const slotGroups = Math.ceil(slots / (kernels.matmul_f32.overrides.WG_SIZE / threadsPerRow));
  const [wx, wy] = split(slotGroups, p.ctx.limits.maxComputeWorkgroupsPerDimension);
  const spec = {
    params: { rows: w.rows, cols: w.cols }, overrides: { ...overrides, THREADS_PER_ROW: threadsPerRow }, workgroups: [wx, wy, nTokens] as const, label,
  };
  // The quantized GEMVs reduce with subgroupAdd where the device has subgroups (the *_sg kernels), else through
  // workgroup memory; both are correct for any subgroup size (lib/reduce_subgroup.wgsl).
  const sg = hasSubgroups(p);
  if (x8 && nTokens > 1 && hasInt8Kernel(w)) return gemmDp4a(p, w, x8, out, nTokens, label, overrides, slots);
  if (x8) {
    const { xq, xd, xs } = x8;
    switch (w.format) {
      case 'q8_0': return p.dispatch(sg ? kernels.matmul_dp4a_q8_0_sg : kernels.matmul_dp4a_q8_0, { ...spec, bindings: { xq, xd, out, ...w.parts } });
      case 'q4_0': return p.dispatch(sg ? kernels.matmul_dp4a_q4_0_sg : kernels.matmul_dp4a_q4_0, { ...spec, bindings: { xq, xd, xs, out, ...w.parts } });
      case 'q4_k': return p.dispatch(sg ? kernels.matmul_dp4a_q4_k_sg : kernels.matmul_dp4a_q4_k, { ...spec, bindings: { xq, xd, xs, out, ...w.parts } });
      default: break; // no integer-dot kernel for this format: dequantize against x below
    }
  }
  if (nTokens > 1 && w.cols % 32 === 0) return gemm(p, w, x, out, nTokens, label, overrides, slots);
  switch (w.format) {
    case 'f32': return p.dispatch(kernels.matmul_f32, { ...spec, bindings: { x, weight: w.data, out } });
    case 'f16': return p.dispatch(kernels.matmul_f16, { ...spec, bindings: { x, weight: w.data, out } });
    case 'q8_0': return p.dispatch(sg ? kernels.matmul_q8_0_sg : kernels.matmul_q8_0, { ...spec, bindings: { x, out, ...w.parts } });
    case 'q4_0': return p.dispatch(sg ? kernels.matmul_q4_0_sg : kernels.matmul_q4_0, { ...spec, bindings: { x, out, ...w.parts } });
    case 'q4_1': return p.dispatch(sg ? kernels.matmul_q4_1_sg : kernels.matmul_q4_1, { ...spec, bindings: { x, out, ...w.parts } });
    case 'q5_0': return p.dispatch(sg ? kernels.matmul_q5_0_sg : kernels.matmul_q5_0, { ...spec, bindings: { x, out, ...w.parts } });
    case 'q5_1': return p.dispatch(sg ? kernels.matmul_q5_1_sg : kernels.matmul_q5_1, { ...spec, bindings: { x, out, ...w.parts } });
    case 'q4_k': return p.dispatch(sg ? kernels.matmul_q4_k_sg : kernels.matmul_q4_k, { ...spec, bindings: { x, out, ...w.parts } });
    case 'q6_k': return p.dispatch(sg ? kernels.matmul_q6_k_sg : kernels.matmul_q6_k, { ...spec, bindings: { x, out, ...w.parts } });
    default: return assertNever(w);
  }
}

/**
 * out[t] = W · x[t] for a prefill chunk on int8 activations (W8A8 / W4A8): the tiled GEMM of gemm() with integer
 * dot products, each weight unit decoded once per TILE_TOKENS tokens instead of once per token.
 */
function gemmDp4a(
  p: PlanBuilder, w: Weight, x8: Int8Activations, out: GpuTensor, nTokens: number, label: string, overrides: EpilogueOverrides, slots: number,
): void {
  const kernel = kernels.gemm_dp4a_q8_0;
  const spec = {
    params: { rows: w.rows, cols: w.cols, n_tokens: nTokens },
    overrides,
    workgroups: [Math.ceil(slots / kernel.overrides.WG_SIZE), Math.ceil(nTokens / kernel.overrides.TILE_TOKENS)] as const,
    label,
  };
  switch (w.format) {
    case 'q8_0': return p.dispatch(kernels.gemm_dp4a_q8_0, { ...spec, bindings: { ...x8, out, ...w.parts } });
    case 'q4_0': return p.dispatch(kernels.gemm_dp4a_q4_0, { ...spec, bindings: { ...x8, out, ...w.parts } });
    case 'q4_k': return p.dispatch(kernels.gemm_dp4a_q4_k, { ...spec, bindings: { ...x8, out, ...w.parts } });
    default: throw new Error(`${label}: no int8 GEMM for ${w.format} weights`);
  }
}

/**
 * out[t] = W · x[t] for a prefill chunk with the tiled GEMM: each weight unit is decoded once per 8 tokens instead
 * of once per token. Needs cols % 32 == 0 (true of every quantized format; dense rows like stories260K's 172 use
 * the per-token kernels).
 */
function gemm(
  p: PlanBuilder, w: Weight, x: GpuTensor, out: GpuTensor, nTokens: number, label: string, overrides: EpilogueOverrides, slots: number,
): void {
  const tileTokens = kernels.gemm_f32.overrides.TILE_TOKENS;
  const spec = {
    params: { rows: w.rows, cols: w.cols, n_tokens: nTokens },
    overrides,
    workgroups: [Math.ceil(slots / kernels.gemm_f32.overrides.WG_SIZE), Math.ceil(nTokens / tileTokens)] as const,
    label,
  };
  switch (w.format) {
    case 'f32': return p.dispatch(kernels.gemm_f32, { ...spec, bindings: { x, weight: w.data, out } });
    case 'f16': return p.dispatch(kernels.gemm_f16, { ...spec, bindings: { x, weight: w.data, out } });
    case 'q8_0': return p.dispatch(kernels.gemm_q8_0, { ...spec, bindings: { x, out, ...w.parts } });
    case 'q4_0': return p.dispatch(kernels.gemm_q4_0, { ...spec, bindings: { x, out, ...w.parts } });
    case 'q4_1': return p.dispatch(kernels.gemm_q4_1, { ...spec, bindings: { x, out, ...w.parts } });
    case 'q5_0': return p.dispatch(kernels.gemm_q5_0, { ...spec, bindings: { x, out, ...w.parts } });
    case 'q5_1': return p.dispatch(kernels.gemm_q5_1, { ...spec, bindings: { x, out, ...w.parts } });
    case 'q4_k': return p.dispatch(kernels.gemm_q4_k, { ...spec, bindings: { x, out, ...w.parts } });
    case 'q6_k': return p.dispatch(kernels.gemm_q6_k, { ...spec, bindings: { x, out, ...w.parts } });
    case 'lut': throw new Error(`${label}: LUT weights run lut_gemv (linear), never the dequant GEMM`);
    default: return assertNever(w);
  }
}

// The position-encoding ops (rope, attention3dRpeChunked) live beside their tables in llama/rope-ops.ts.
export { attention3dRpeChunked, rope } from './llama/rope-ops.ts';

/** How the KV cache stores keys and values: f32, f16 pairs, or int8 codes with one scale per (position, KV head). */
export type KvCacheType = 'f32' | 'f16' | 'int8';

/** Checks a KV-cache type coming from outside TypeScript's reach (CLI flags, worker messages). */
export function checkKvCacheType(type: string): KvCacheType {
  if (type === 'f32' || type === 'f16' || type === 'int8') return type;
  throw new Error(`unknown KV cache type '${type}' (expected 'f32', 'f16' or 'int8')`);
}

/**
 * One layer's KV cache in the storage of its type (shaders/lib/attention/kv_*.wgsl), preallocated for seq_len
 * positions: f32 [seq_len, kv_dim]; f16 [seq_len, kv_dim] as packed pairs; int8 codes [seq_len, kv_dim / 4] u32
 * (4 per word) with scales [seq_len, n_kv_heads] f32.
 */
export type KvCacheLayer =
  | { readonly type: 'f32' | 'f16'; readonly k: GpuTensor; readonly v: GpuTensor }
  | { readonly type: 'int8'; readonly k: GpuTensor; readonly v: GpuTensor; readonly kScale: GpuTensor; readonly vScale: GpuTensor };

export interface AttentionDims {
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
}

/**
 * Flash-decoding's split of the cache: n_splits ranges of split_len positions, fixed at load from seq_len, and the
 * per-split partial results [n_heads, n_splits, 2] (m, l) and [n_heads, n_splits, head_dim] (acc).
 */
export interface DecodeSplits {
  readonly nSplits: number;
  readonly splitLen: number;
  readonly ml: GpuTensor;
  readonly acc: GpuTensor;
}

/** Largest head_dim the attention kernels hold in registers (lib/attention/prefill_tiled.wgsl MAX_HEAD_VEC4 · 4). */
export const MAX_ATTENTION_HEAD_DIM = 128;

/** The most splits a decode step can have: the reduce pass walks them serially per lane, so keep it small. */
const MAX_DECODE_SPLITS = 32;
/**
 * The shortest split, in positions. A split only walks the positions it holds up to the current one, so a long split
 * wastes no work at short contexts; but every split is a workgroup launched each token (splits past the position
 * return at once), and on CPU adapters each launch costs ~µs–ms. 256 keeps n_heads · 8 workgroups per token at 2048
 * positions, enough to fill a GPU's cores, while CPU adapters launch 4× fewer than with 64-position splits.
 */
const MIN_SPLIT_LEN = 256;

/**
 * Splits of a seq_len cache: split_len is a multiple of the decode workgroup (one tile of positions per pass of the
 * split's loop), at least MIN_SPLIT_LEN, and large enough that there are at most MAX_DECODE_SPLITS splits. Work per
 * token is ceil((pos + 1) / split_len) workgroups walking pos + 1 positions in all: linear in pos, whatever seq_len is.
 */
export function decodeSplitsFor(seqLen: number): { nSplits: number; splitLen: number } {
  const tile = kernels.attention_decode_f32.overrides.WG_SIZE;
  const splitLen = Math.ceil(Math.max(MIN_SPLIT_LEN, Math.ceil(seqLen / MAX_DECODE_SPLITS)) / tile) * tile;
  return { nSplits: Math.ceil(seqLen / splitLen), splitLen };
}

/** Throws unless the attention kernels support head_dim (vec4 reads, registers for ≤ MAX_ATTENTION_HEAD_DIM). */
export function checkAttentionDims(dims: AttentionDims): void {
  const { nHeads, nKvHeads, headDim } = dims;
  if (nHeads % nKvHeads !== 0) throw new Error(`attention: n_heads ${nHeads} is not a multiple of n_kv_heads ${nKvHeads}`);
  if (headDim % 4 !== 0 || headDim > MAX_ATTENTION_HEAD_DIM) {
    throw new Error(`attention: head_dim ${headDim} is not supported (the kernels need a multiple of 4, at most ${MAX_ATTENTION_HEAD_DIM})`);
  }
}

/** cache[pos .. pos + n) = k, v [n, kv_dim], converted (f16) or quantized per (position, KV head) (int8) on write. */
export function kvWrite(p: PlanBuilder, k: GpuTensor, v: GpuTensor, cache: KvCacheLayer, dims: AttentionDims, nTokens: number): void {
  const { nKvHeads, headDim } = dims;
  const kvDim = nKvHeads * headDim;
  const seqLen = cache.k.shape[0]!;
  switch (cache.type) {
    case 'f32': return p.dispatch(kernels.kv_write_f32, {
      params: { kv_dim: kvDim, seq_len: seqLen },
      bindings: { k, v, k_cache: cache.k, v_cache: cache.v },
      workgroups: [Math.ceil(kvDim / kernels.kv_write_f32.overrides.WG_SIZE), nTokens],
    });
    case 'f16': return p.dispatch(kernels.kv_write_f16, {
      params: { kv_dim: kvDim, seq_len: seqLen },
      bindings: { k, v, k_cache: cache.k, v_cache: cache.v },
      workgroups: [Math.ceil(kvDim / 2 / kernels.kv_write_f16.overrides.WG_SIZE), nTokens],
    });
    case 'int8': return p.dispatch(kernels.kv_write_int8, {
      params: { n_kv_heads: nKvHeads, head_dim: headDim, seq_len: seqLen },
      bindings: { k, v, k_cache: cache.k, k_scale: cache.kScale, v_cache: cache.v, v_scale: cache.vScale },
      workgroups: [Math.ceil((2 * nKvHeads) / kernels.kv_write_int8.overrides.WG_SIZE), nTokens],
    });
    default: return assertNever(cache);
  }
}

/** What attention() reads and writes; the position encoding is applied to q and k before (forward.ts). */
export interface AttentionArgs {
  readonly q: GpuTensor;           // [n, n_heads·head_dim], rotated
  readonly cache: KvCacheLayer;    // keys 0 ..= pos + n − 1 already written (kvWrite)
  readonly out: GpuTensor;         // [n, n_heads·head_dim]
  readonly splits: DecodeSplits;   // decode scratch
  readonly dims: AttentionDims;
  readonly nTokens: number;
}

/**
 * out = softmax(q·Kᵀ/√head_dim, causal)·V over the cache. One token (decode): flash-decoding, attention_decode_* over
 * n_splits × n_heads workgroups then attention_reduce. A chunk (prefill): attention_prefill_*, one tiled dispatch.
 */
export function attention(p: PlanBuilder, a: AttentionArgs): void {
  checkAttentionDims(a.dims);
  const { q, cache, out, splits, nTokens } = a;
  const { nHeads, nKvHeads, headDim } = a.dims;
  const seqLen = cache.k.shape[0]!;
  const scale = 1 / Math.sqrt(headDim);
  if (nTokens > 1) {
    const spec = {
      params: { n_heads: nHeads, n_kv_heads: nKvHeads, head_dim: headDim, seq_len: seqLen, scale },
      workgroups: [nHeads, Math.ceil(nTokens / kernels.attention_prefill_f32.overrides.WG_SIZE)] as const,
    };
    switch (cache.type) {
      case 'f32': return p.dispatch(kernels.attention_prefill_f32, { ...spec, bindings: { q, out, k_cache: cache.k, v_cache: cache.v } });
      case 'f16': return p.dispatch(kernels.attention_prefill_f16, { ...spec, bindings: { q, out, k_cache: cache.k, v_cache: cache.v } });
      case 'int8': return p.dispatch(kernels.attention_prefill_int8, { ...spec, bindings: { q, out, k_cache: cache.k, k_scale: cache.kScale, v_cache: cache.v, v_scale: cache.vScale } });
      default: return assertNever(cache);
    }
  }
  const { nSplits, splitLen, ml, acc } = splits;
  const spec = {
    params: { n_heads: nHeads, n_kv_heads: nKvHeads, head_dim: headDim, seq_len: seqLen, n_splits: nSplits, split_len: splitLen, scale },
    workgroups: [nSplits, nHeads] as const,
  };
  const partials = { q, partial_ml: ml, partial_acc: acc };
  switch (cache.type) {
    case 'f32': p.dispatch(kernels.attention_decode_f32, { ...spec, bindings: { ...partials, k_cache: cache.k, v_cache: cache.v } }); break;
    case 'f16': p.dispatch(kernels.attention_decode_f16, { ...spec, bindings: { ...partials, k_cache: cache.k, v_cache: cache.v } }); break;
    case 'int8': p.dispatch(kernels.attention_decode_int8, { ...spec, bindings: { ...partials, k_cache: cache.k, k_scale: cache.kScale, v_cache: cache.v, v_scale: cache.vScale } }); break;
    default: assertNever(cache);
  }
  p.dispatch(kernels.attention_reduce, {
    params: { n_heads: nHeads, head_dim: headDim, seq_len: seqLen, n_splits: nSplits, split_len: splitLen },
    bindings: { partial_ml: ml, partial_acc: acc, out },
    workgroups: [nHeads],
  });
}

/** x += y over n elements. */
export function addInPlace(p: PlanBuilder, x: GpuTensor, y: GpuTensor, n: number): void {
  p.dispatch(kernels.add_inplace, { params: { n }, bindings: { x, y }, workgroups: [Math.ceil(n / kernels.add_inplace.overrides.WG_SIZE)] });
}

/** gate = silu(gate) · up over n elements. */
export function siluMul(p: PlanBuilder, gate: GpuTensor, up: GpuTensor, n: number): void {
  p.dispatch(kernels.silu_mul, { params: { n }, bindings: { gate, up }, workgroups: [Math.ceil(n / kernels.silu_mul.overrides.WG_SIZE)] });
}

/**
 * out[0] = argmax of the step's last token's logits: row n_tokens − 1 of `logits`, or row 0 with `row: 'first'`
 * (logits computed for the last token only, after rmsNormLast).
 */
export function argmax(p: PlanBuilder, logits: GpuTensor, out: GpuTensor, vocabSize: number, row: 'last-of-step' | 'first' = 'last-of-step'): void {
  p.dispatch(kernels.argmax, {
    params: { vocab_size: vocabSize },
    bindings: { logits, out },
    overrides: { ROW_FROM_STEP: row === 'first' ? 0 : 1 },
    workgroups: [1],
  });
}

/** out[0] = rms_norm(x[n_tokens − 1]) · weight: the final norm of the step's last token only. */
export function rmsNormLast(p: PlanBuilder, x: GpuTensor, weight: GpuTensor, out: GpuTensor, eps: number): void {
  const dim = weight.shape[0]!;
  p.dispatch(kernels.rms_norm_last, { params: { dim, eps }, bindings: { x, weight, out }, workgroups: [1] });
}
