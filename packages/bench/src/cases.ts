// The two things measured: one matmul dispatch (a layer of a real model, decode GEMV or prefill GEMM) and one copy
// dispatch (the bandwidth roofline). Each builds a one-dispatch Plan the way the runtime does, times it, and frees
// its buffers before the next case so at most one large weight lives on the device at a time.
import { createTensor, PipelineCache, PlanBuilder, type DeviceContext, type DispatchSpec, type GpuTensor } from '@qgpu/gpu';
import { gemvThreadsPerRow } from '@qgpu/runtime/ops';
import * as kernels from '@qgpu/shaders';
import type { KernelDescriptor, OverrideValues, ParamValues } from '@qgpu/shaders';
import { timePlan, type Timing, type TimingOptions } from './timing.ts';
import type { LutBits } from '@qgpu/formats';
import {
  blockValues, DP4A_KERNELS, GEMM_KERNELS, LUT_GROUP, lutWeightPartBytes, lutWeightParts, MATMUL_KERNELS, uploadParts, uploadWeights,
  weightPartBytes, type BenchWeights, type Dp4aFormat, type Format,
} from './weights.ts';

/** A linear layer: rows = outputs, cols = inputs (GGUF row-major [out, in]); tokens = 1 is decode. */
export interface Shape {
  readonly rows: number;
  readonly cols: number;
  readonly tokens: number;
  /** Which model layer it stands for. */
  readonly note: string;
}

/** `ROWSxCOLS` or `TOKENS@ROWSxCOLS`. */
export function parseShape(text: string): Shape {
  const m = /^(?:(\d+)@)?(\d+)x(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`--shapes: '${text}' is not ROWSxCOLS or TOKENS@ROWSxCOLS`);
  return { rows: Number(m[2]), cols: Number(m[3]), tokens: Number(m[1] ?? 1), note: 'from --shapes' };
}

export const shapeLabel = (s: Shape): string => `${s.tokens > 1 ? `${s.tokens} tok × ` : ''}${s.rows}×${s.cols}`;

/** matmul_*: one workgroup per (row, token), what decode uses; gemm_*: the tiled prefill kernel. */
export type Variant = 'matmul' | 'gemm';

/**
 * What ran: a dequant format (`q4_0`, …), an int8-path format (`dp4a_q4_0`: quantize_act_q8 + matmul_dp4a_q4_0) or
 * a LUT width (`lut4`: lut_build + lut_gemv with 4 bit-planes).
 */
export type BenchFormat = Format | `dp4a_${Dp4aFormat}` | `lut${LutBits}`;

export interface MatmulResult extends Timing {
  /** The kernel, or `a+b` for a path that runs an activation kernel before its matmul. */
  readonly kernel: string;
  readonly format: BenchFormat;
  readonly shape: Shape;
  readonly weightBytes: number;
  /** x read plus y written, in f32. */
  readonly activationBytes: number;
  /** Weights once plus activations: the least a kernel must move (a GEMM may re-read weights; see BENCHMARKS.md). */
  readonly bytesMoved: number;
}

export interface CopyResult extends Timing {
  /** Bytes read plus bytes written. */
  readonly bytesMoved: number;
}

/** A step buffer for PlanBuilder; none of the benchmarked kernels read it. */
function newPlanBuilder(ctx: DeviceContext, label: string): { builder: PlanBuilder; step: GPUBuffer } {
  const step = ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  return { builder: new PlanBuilder(new PipelineCache(ctx, 'f32'), step, label), step };
}

/** Splits `groups` workgroups over x and y (x ≤ limit), as the kernels' `x + y·(x-count)` indexing expects. */
export function splitWorkgroups(groups: number, limit: number): [number, number] {
  const y = Math.ceil(groups / limit);
  return [Math.ceil(groups / y), y];
}

/** Why `format` at `shape` cannot run on this device, or null. */
export function skipReason(ctx: DeviceContext, format: Format, shape: Shape): string | null {
  // Real GGUF files fall back to another type for such tensors (llama.cpp does for K-quants), so no kernel runs it.
  if (shape.cols % blockValues(format) !== 0) return `cols ${shape.cols} is not a multiple of the ${blockValues(format)}-value block`;
  const largest = Math.max(...weightPartBytes(format, shape.rows, shape.cols));
  const limit = ctx.limits.maxStorageBufferBindingSize;
  if (largest > limit) return `weights need a ${(largest / 2 ** 20).toFixed(0)} MiB binding, over this device's ${(limit / 2 ** 20).toFixed(0)} MiB maxStorageBufferBindingSize`;
  return null;
}

/**
 * The decode GEMVs the runtime dispatches (ops.ts linear): the *_sg variant where the device has `subgroups`. Dense
 * f32/f16 have a single variant.
 */
const MATMUL_SG_KERNELS = {
  f32: kernels.matmul_f32,
  f16: kernels.matmul_f16,
  q8_0: kernels.matmul_q8_0_sg,
  q6_k: kernels.matmul_q6_k_sg,
  q5_0: kernels.matmul_q5_0_sg,
  q4_k: kernels.matmul_q4_k_sg,
  q4_0: kernels.matmul_q4_0_sg,
} as const satisfies Record<Format, KernelDescriptor>;
const DP4A_SG_KERNELS = {
  q8_0: kernels.matmul_dp4a_q8_0_sg,
  q4_k: kernels.matmul_dp4a_q4_k_sg,
  q4_0: kernels.matmul_dp4a_q4_0_sg,
} as const satisfies Record<Dp4aFormat, KernelDescriptor>;

/**
 * matmul_*: WG_SIZE / threadsPerRow rows per workgroup (lib/body/gemv_rows.wgsl), the workgroups split over x and y;
 * without threadsPerRow, the runtime's choice for these cols (ops.ts gemvThreadsPerRow).
 */
function dispatchMatmul<K extends KernelDescriptor>(
  builder: PlanBuilder, kernel: K, shape: Shape, tensors: Record<string, GpuTensor>, threadsPerRow: number,
): void {
  const rowsPerGroup = kernels.matmul_f32.overrides.WG_SIZE / threadsPerRow;
  const [wx, wy] = splitWorkgroups(Math.ceil(shape.rows / rowsPerGroup), builder.ctx.limits.maxComputeWorkgroupsPerDimension);
  // The catalog types bindings per kernel; this one function serves all seven, and PlanBuilder checks at run time
  // that every binding the kernel declares is present.
  builder.dispatch(kernel, {
    params: { rows: shape.rows, cols: shape.cols } as unknown as ParamValues<K>,
    bindings: tensors as DispatchSpec<K>['bindings'],
    overrides: { THREADS_PER_ROW: threadsPerRow } as OverrideValues<K>,
    workgroups: [wx, wy, shape.tokens],
  });
}

/** The kernel label of a decode GEMV timed at `threadsPerRow` lanes per row. */
const gemvLabel = (name: string, threadsPerRow: number) => `${name} (${threadsPerRow} lanes/row)`;

/** gemm_*: x = blocks of WG_SIZE rows, y = tiles of TILE_TOKENS tokens (see the kernels' headers). */
function dispatchGemm<K extends KernelDescriptor>(builder: PlanBuilder, kernel: K, shape: Shape, tensors: Record<string, GpuTensor>): void {
  const { WG_SIZE, TILE_TOKENS } = kernel.overrides as { WG_SIZE: number; TILE_TOKENS: number };
  builder.dispatch(kernel, {
    params: { rows: shape.rows, cols: shape.cols, n_tokens: shape.tokens } as unknown as ParamValues<K>,
    bindings: tensors as DispatchSpec<K>['bindings'],
    workgroups: [Math.ceil(shape.rows / WG_SIZE), Math.ceil(shape.tokens / TILE_TOKENS)],
  });
}

/**
 * Builds a plan of the dispatches `record` adds (weights, x [tokens, cols] and out [tokens, rows] in f32 given),
 * times it, and frees everything it allocated plus `weights` and `scratch`.
 */
async function timeLinear(
  ctx: DeviceContext, label: string, format: BenchFormat, shape: Shape, weights: BenchWeights, scratch: readonly GpuTensor[],
  record: (builder: PlanBuilder, x: GpuTensor, out: GpuTensor) => void, options: TimingOptions,
): Promise<MatmulResult> {
  const { device } = ctx;
  const x = createTensor(device, 'x', [shape.tokens, shape.cols], 'f32');
  device.queue.writeBuffer(x.buffer, 0, Float32Array.from({ length: shape.tokens * shape.cols }, (_, i) => Math.sin(i)));
  const out = createTensor(device, 'out', [shape.tokens, shape.rows], 'f32');
  const { builder, step } = newPlanBuilder(ctx, `bench.${label}`);
  try {
    record(builder, x, out);
    const plan = await builder.build();
    const timing = await timePlan(ctx, plan, options);
    plan.destroy();
    const activationBytes = x.byteLength + out.byteLength;
    return { ...timing, kernel: label, format, shape, weightBytes: weights.bytes, activationBytes, bytesMoved: weights.bytes + activationBytes };
  } finally {
    for (const t of [...Object.values(weights.tensors), ...scratch, x, out]) t.buffer.destroy();
    step.destroy();
  }
}

/**
 * Times one linear layer in `format` with f32 activations (the path every adapter has). The decode GEMV is the
 * variant the runtime picks on this device (subgroups or not) at `threadsPerRow` lanes per row (default: the runtime's
 * choice).
 */
export async function benchMatmul(
  ctx: DeviceContext, variant: Variant, format: Format, shape: Shape, options: TimingOptions, threadsPerRow = gemvThreadsPerRow(shape.cols),
): Promise<MatmulResult> {
  const weights = uploadWeights(ctx, format, shape.rows, shape.cols);
  const kernel = variant === 'gemm' ? GEMM_KERNELS[format] : (ctx.features.has('subgroups') ? MATMUL_SG_KERNELS : MATMUL_KERNELS)[format];
  const label = variant === 'gemm' ? kernel.name : gemvLabel(kernel.name, threadsPerRow);
  return timeLinear(ctx, label, format, shape, weights, [], (builder, x, out) => {
    const tensors = { ...weights.tensors, x, out };
    if (variant === 'gemm') dispatchGemm(builder, kernel, shape, tensors);
    else dispatchMatmul(builder, kernel, shape, tensors, threadsPerRow);
  }, options);
}

/**
 * Times the int8 path as the runtime runs it for one linear: quantize_act_q8 on x, then matmul_dp4a_<format> (decode)
 * or the tiled gemm_dp4a_<format> (prefill). The quantization is counted: it is per linear input, shared at most by
 * the 2–3 linears reading the same activation (q/k/v, gate/up).
 */
export async function benchDp4a(
  ctx: DeviceContext, variant: Variant, format: Dp4aFormat, shape: Shape, options: TimingOptions, threadsPerRow = gemvThreadsPerRow(shape.cols),
): Promise<MatmulResult> {
  const weights = uploadWeights(ctx, format, shape.rows, shape.cols);
  const int8 = {
    xq: createTensor(ctx.device, 'xq', [shape.tokens, shape.cols / 4], 'u32'),
    xd: createTensor(ctx.device, 'xd', [shape.tokens, shape.cols / 32], 'f32'),
    xs: createTensor(ctx.device, 'xs', [shape.tokens, shape.cols / 32], 'f32'),
  };
  const gemv = (ctx.features.has('subgroups') ? DP4A_SG_KERNELS : DP4A_KERNELS)[format];
  const kernel = variant === 'gemm' ? `gemm_dp4a_${format}` as const : gemvLabel(gemv.name, threadsPerRow);
  return timeLinear(ctx, `quantize_act_q8+${kernel}`, `dp4a_${format}`, shape, weights, Object.values(int8), (builder, x, out) => {
    const nBlocks = (shape.tokens * shape.cols) / 32;
    builder.dispatch(kernels.quantize_act_q8, {
      params: { n_blocks: nBlocks },
      bindings: { x, ...int8 },
      workgroups: splitWorkgroups(Math.ceil(nBlocks / kernels.quantize_act_q8.overrides.WG_SIZE), ctx.limits.maxComputeWorkgroupsPerDimension),
    });
    // Q8_0's GEMV has no offset term and declares no xs; every other kernel here reads all three.
    const tensors = { ...weights.tensors, ...(variant === 'matmul' && format === 'q8_0' ? { xq: int8.xq, xd: int8.xd } : int8), out };
    if (variant === 'gemm') dispatchGemm(builder, kernels[kernel as `gemm_dp4a_${Dp4aFormat}`], shape, tensors);
    else dispatchMatmul(builder, gemv, shape, tensors, threadsPerRow);
  }, options);
}

/**
 * Times the LUT path as the runtime runs it for one linear: lut_build (the T-MAC tables of x) then lut_gemv with
 * `bits` bit-planes, groups of 32. The table build is counted, as the int8 path's quantization is.
 */
export async function benchLut(
  ctx: DeviceContext, bits: LutBits, shape: Shape, options: TimingOptions, rowsPerWg: number = kernels.lut_gemv.overrides.ROWS_PER_WG,
): Promise<MatmulResult> {
  const weights = uploadParts(ctx, `lut${bits}`, lutWeightParts(bits, shape.rows, shape.cols));
  const tables = {
    tables: createTensor(ctx.device, 'lut.tables', [shape.tokens, shape.cols / 4, 8], 'f32'),
    sums: createTensor(ctx.device, 'lut.sums', [shape.tokens, shape.cols / 32], 'f32'),
  };
  const gemv = 'lut_gemv';
  const rowsLabel = rowsPerWg === kernels.lut_gemv.overrides.ROWS_PER_WG ? '' : `, ${rowsPerWg} rows/wg`;
  return timeLinear(ctx, `lut_build+${gemv}(b=${bits}${rowsLabel})`, `lut${bits}`, shape, weights, Object.values(tables), (builder, x, out) => {
    builder.dispatch(kernels.lut_build, {
      params: { cols: shape.cols },
      bindings: { x, ...tables },
      workgroups: [Math.ceil(shape.cols / 4 / kernels.lut_build.overrides.WG_SIZE), 1, shape.tokens],
    });
    const chunks = Math.ceil(shape.rows / rowsPerWg);
    // The variant the runtime dispatches (ops.ts linear): subgroupAdd row sums where the device has subgroups.
    builder.dispatch(kernels[gemv], {
      params: { rows: shape.rows, cols: shape.cols, group: LUT_GROUP },
      bindings: { ...tables, ...weights.tensors, out } as never,
      overrides: { BITS: bits, ROWS_PER_WG: rowsPerWg },
      workgroups: [...splitWorkgroups(chunks, ctx.limits.maxComputeWorkgroupsPerDimension), shape.tokens],
    });
  }, options);
}

/** Why the LUT path at `bits` cannot run `shape` on this device, or null. */
export function lutSkipReason(ctx: DeviceContext, bits: number, shape: Shape): string | null {
  if (shape.cols % LUT_GROUP !== 0) return `cols ${shape.cols} is not a multiple of the ${LUT_GROUP}-column group`;
  const largest = Math.max(...lutWeightPartBytes(bits, shape.rows, shape.cols), shape.tokens * shape.cols * 8);
  if (largest > ctx.limits.maxStorageBufferBindingSize) return `needs a ${(largest / 2 ** 20).toFixed(0)} MiB binding, over maxStorageBufferBindingSize`;
  return null;
}

/** Times copy_u32 over `words` words (a multiple of 4; 8 bytes moved per word: one read, one write). */
export async function benchCopy(ctx: DeviceContext, words: number, options: TimingOptions): Promise<CopyResult> {
  if (words % 4 !== 0) throw new Error(`copy of ${words} words: copy_u32 moves whole vec4s`);
  const { device } = ctx;
  const src = createTensor(device, 'copy.src', [words], 'u32');
  const dst = createTensor(device, 'copy.dst', [words], 'u32');
  // Non-zero source data, so no layer of the stack can treat the copy as a clear.
  device.queue.writeBuffer(src.buffer, 0, Uint32Array.from({ length: words }, (_, i) => Math.imul(i, 0x9e3779b1) >>> 0));
  const { builder, step } = newPlanBuilder(ctx, 'bench.copy');
  try {
    const { WG_SIZE, PER_THREAD } = kernels.copy_u32.overrides;
    builder.dispatch(kernels.copy_u32, {
      params: { n_vec4: words / 4 },
      bindings: { src, dst },
      workgroups: splitWorkgroups(Math.ceil(words / 4 / (WG_SIZE * PER_THREAD)), ctx.limits.maxComputeWorkgroupsPerDimension),
    });
    const plan = await builder.build();
    const timing = await timePlan(ctx, plan, options);
    plan.destroy();
    return { ...timing, bytesMoved: 8 * words };
  } finally {
    src.buffer.destroy();
    dst.buffer.destroy();
    step.destroy();
  }
}

/**
 * The copy size to compare a kernel moving `bytesMoved` with: the power of two nearest to half of it (the copy
 * moves its buffer twice), capped by the binding limit. Powers of two let kernels of similar size share one copy run.
 */
export function copyWordsFor(bytesMoved: number, maxBindingBytes: number): number {
  const srcBytes = 2 ** Math.round(Math.log2(Math.max(bytesMoved / 2, 4096)));
  return Math.min(srcBytes, 2 ** Math.floor(Math.log2(maxBindingBytes))) / 4;
}
