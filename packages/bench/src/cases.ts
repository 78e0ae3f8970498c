// The two things measured: one matmul dispatch (a layer of a real model, decode GEMV or prefill GEMM) and one copy
// dispatch (the bandwidth roofline). Each builds a one-dispatch Plan the way the runtime does, times it, and frees
// its buffers before the next case so at most one large weight lives on the device at a time.
import { createTensor, PipelineCache, PlanBuilder, type DeviceContext, type DispatchSpec, type GpuTensor } from '@qgpu/gpu';
import * as kernels from '@qgpu/shaders';
import type { KernelDescriptor, ParamValues } from '@qgpu/shaders';
import { timePlan, type Timing, type TimingOptions } from './timing.ts';
import { blockValues, GEMM_KERNELS, MATMUL_KERNELS, uploadWeights, weightPartBytes, type Format } from './weights.ts';

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

export interface MatmulResult extends Timing {
  readonly kernel: string;
  readonly format: Format;
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

function dispatchMatmul<K extends KernelDescriptor>(builder: PlanBuilder, kernel: K, shape: Shape, tensors: Record<string, GpuTensor>): void {
  const [wx, wy] = splitWorkgroups(shape.rows, builder.ctx.limits.maxComputeWorkgroupsPerDimension);
  // The catalog types bindings per kernel; this one function serves all seven, and PlanBuilder checks at run time
  // that every binding the kernel declares is present.
  builder.dispatch(kernel, {
    params: { rows: shape.rows, cols: shape.cols } as unknown as ParamValues<K>,
    bindings: tensors as DispatchSpec<K>['bindings'],
    workgroups: [wx, wy, shape.tokens],
  });
}

/** gemm_*: x = blocks of WG_SIZE rows, y = tiles of TILE_TOKENS tokens (see the kernels' headers). */
function dispatchGemm<K extends KernelDescriptor>(builder: PlanBuilder, kernel: K, shape: Shape, tensors: Record<string, GpuTensor>): void {
  const { WG_SIZE, TILE_TOKENS } = kernel.overrides as { WG_SIZE: number; TILE_TOKENS: number };
  builder.dispatch(kernel, {
    params: { rows: shape.rows, cols: shape.cols, n_tokens: shape.tokens } as unknown as ParamValues<K>,
    bindings: tensors as DispatchSpec<K>['bindings'],
    workgroups: [Math.ceil(shape.rows / WG_SIZE), Math.ceil(shape.tokens / TILE_TOKENS)],
  });
}

/** Times one linear layer in `format` with f32 activations (the path every adapter has). */
export async function benchMatmul(ctx: DeviceContext, variant: Variant, format: Format, shape: Shape, options: TimingOptions): Promise<MatmulResult> {
  const { device } = ctx;
  const weights = uploadWeights(ctx, format, shape.rows, shape.cols);
  const x = createTensor(device, 'x', [shape.tokens, shape.cols], 'f32');
  device.queue.writeBuffer(x.buffer, 0, Float32Array.from({ length: shape.tokens * shape.cols }, (_, i) => Math.sin(i)));
  const out = createTensor(device, 'out', [shape.tokens, shape.rows], 'f32');
  const { builder, step } = newPlanBuilder(ctx, `bench.${variant}_${format}`);
  try {
    const tensors = { ...weights.tensors, x, out };
    const kernel = variant === 'gemm' ? GEMM_KERNELS[format] : MATMUL_KERNELS[format];
    if (variant === 'gemm') dispatchGemm(builder, kernel, shape, tensors);
    else dispatchMatmul(builder, kernel, shape, tensors);
    const plan = await builder.build();
    const timing = await timePlan(ctx, plan, options);
    plan.destroy();
    const activationBytes = x.byteLength + out.byteLength;
    return { ...timing, kernel: kernel.name, format, shape, weightBytes: weights.bytes, activationBytes, bytesMoved: weights.bytes + activationBytes };
  } finally {
    for (const t of [...Object.values(weights.tensors), x, out]) t.buffer.destroy();
    step.destroy();
  }
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
