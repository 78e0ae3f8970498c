// A loaded Llama model on one device: weights, workspace, and the plans (decode: 1 token; prefill: a chunk with the
// output projection for its last row only; prefill-all: a chunk with every row's logits, for scoring, built on first
// use from the already compiled pipelines). The per-token path writes the 8-byte step uniform, encodes one pass,
// submits once and reads back 4 bytes.
import type { GgufFile } from '@qgpu/formats';
import { PipelineCache, type DeviceContext, type Plan } from '@qgpu/gpu';
import { hasGroupQuantization } from '@qgpu/quant';
import { checkAttentionDims, checkKernelPath, checkKvCacheType, type KernelPath, type KvCacheType } from '../ops.ts';
import { llamaConfigFromGguf, type LlamaConfig } from './config.ts';
import { buildForwardPlan } from './forward.ts';
import { loadLlamaWeights, type CrossQuantOptions, type LlamaWeights } from './load.ts';
import { positionTables, type PositionEncoding } from './rope.ts';
import { createWorkspace, type Workspace } from './workspace.ts';
import { qkvRegionAligned, resolveFusions, type Fusions } from './fuse.ts';
import type { FuseOptions } from '../engine-api.ts';

export interface LlamaModelOptions {
  /** KV-cache length in tokens (default: the model's trained context; may exceed it). */
  contextLength?: number;
  /** Tokens per prefill dispatch (default 32). */
  prefillChunk?: number;
  /**
   * How the KV cache stores keys and values (default 'f32'): 'f16' halves it (packed pairs, no shader-f16 needed),
   * 'int8' quarters it (symmetric absmax codes, one f32 scale per position and KV head). docs/architecture.md.
   */
  kvCache?: KvCacheType;
  /** How positions are encoded (default: the model's own RoPE); docs/position-encoding.md. */
  positionEncoding?: PositionEncoding;
  /** How linears run (default 'dequant'; see KernelPath). 'lut' is reserved and rejected until it exists. */
  kernelPath?: KernelPath;
  onProgress?: (phase: 'weights' | 'pipelines', loadedBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
  /**
   * Largest GPU part of one weight, in bytes (default: the device's maxStorageBufferBindingSize); larger
   * vocabulary-sized matrices are split into row ranges. Tests lower it to exercise the split.
   */
  maxBindingBytes?: number;
  /** CrossQuant activation quantization on the dp4a path (calibration from `qgpu calibrate`; docs/quantization.md). */
  crossQuant?: CrossQuantOptions;
  /** Fusions that cut the dispatches per layer (default: all; docs/performance.md "Fusions", engine-api.ts FuseOptions). */
  fuse?: boolean | FuseOptions;
}

export class LlamaModel {
  private readonly tokenReadback: GPUBuffer;
  private readonly logitsReadback: GPUBuffer;
  private prefillAllPlan: Promise<Plan> | undefined;

  private constructor(
    readonly ctx: DeviceContext,
    readonly config: LlamaConfig,
    readonly weights: LlamaWeights,
    readonly workspace: Workspace,
    readonly kernelPath: KernelPath,
    /**
     * The fusions asked for, qkv off where the q/k/v views would miss the binding alignment; which layers got a fused
     * matrix is in weights.layers (qkv, gateUp: parts of different stored types stay apart).
     */
    readonly fusions: Fusions,
    private readonly decodePlan: Plan,
    /** Last-row prefill plans by token count (prefillSizes: powers of two below the chunk, and the chunk). */
    private readonly prefillPlans: ReadonlyMap<number, Plan>,
    private readonly pipelineCache: PipelineCache,
  ) {
    const device = ctx.device;
    this.tokenReadback = device.createBuffer({ label: 'next_token.readback', size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.logitsReadback = device.createBuffer({
      label: 'logits.readback',
      size: workspace.logits.byteLength,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  static async load(ctx: DeviceContext, file: GgufFile, options: LlamaModelOptions = {}): Promise<LlamaModel> {
    const config = llamaConfigFromGguf(file);
    // Group-quantized RTN / SINQ files (qgpu.quant, docs/quantization.md) hold asymmetric 2..8-bit codes that only the
    // LUT kernels run, so they always take the lut path.
    const grouped = hasGroupQuantization(file);
    if (grouped && options.kernelPath !== undefined && options.kernelPath !== 'lut') {
      throw new Error(`${file.source.name} is group-quantized (qgpu.quant); it runs on kernel path 'lut' only, not '${options.kernelPath}'`);
    }
    const kernelPath = checkKernelPath(grouped ? 'lut' : options.kernelPath ?? 'dequant');
    if (kernelPath === 'dp4a' && !ctx.wgslFeatures.has('packed_4x8_integer_dot_product')) {
      throw new Error("kernel path 'dp4a' needs the WGSL feature packed_4x8_integer_dot_product, which this WebGPU implementation lacks; use 'dequant'");
    }
    // A context longer than the trained one is allowed (llama.cpp does the same with a warning): positions past it are
    // extrapolated unless a position encoding maps them back (docs/position-encoding.md).
    const seqLen = options.contextLength ?? config.contextLength;
    if (!Number.isInteger(seqLen) || seqLen < 1) throw new RangeError(`contextLength must be a positive integer, got ${seqLen}`);
    const chunk = Math.max(1, Math.min(options.prefillChunk ?? 32, seqLen));
    // Groups of 32 (one GGUF block); the code width follows each tensor's stored type, so Q8_0 (8 bits, zero point 128)
    // and Q4_0 (4 bits, zero point 8) convert exactly (lutBitsFor in @qgpu/formats).
    const lut = kernelPath === 'lut' ? { group: 32 } as const : undefined;
    const kvCache = checkKvCacheType(options.kvCache ?? 'f32');
    // Checked and built before any weight is read: a bad encoding fails fast, naming the field.
    const positions = positionTables(config.rope, options.positionEncoding ?? { type: 'rope' }, seqLen, config.contextLength);
    if (positions.kind === 'chunked' && kvCache !== 'f32') {
      throw new RangeError(`3D-RPE mode 'chunked' needs kvCache 'f32' (its attention kernel reads f32 keys), not '${kvCache}'`);
    }
    checkAttentionDims(config);
    if (options.crossQuant && kernelPath !== 'dp4a') throw new Error(`CrossQuant quantizes the activations of the int8 kernels: it needs kernel path 'dp4a', not '${kernelPath}'`);
    // The fused QKV linear writes q, k, v as views of one region whose offsets depend on each plan's token count
    // (1 and the chunk): fused only where those offsets meet the binding-offset alignment.
    const asked = resolveFusions(options.fuse);
    const fusions = { ...asked, qkv: asked.qkv && qkvRegionAligned(config, [1, ...prefillSizes(chunk)], ctx.device.limits.minStorageBufferOffsetAlignment) };
    const weights = await loadLlamaWeights(
      ctx.device, file, config, (loaded, total) => options.onProgress?.('weights', loaded, total), options.signal, lut, options.maxBindingBytes, options.crossQuant, fusions,
    );
    let workspace: Workspace;
    try {
      workspace = createWorkspace(ctx.device, config, seqLen, chunk, kernelPath, kvCache, positions, {
        qkv: weights.layers.some((l) => 'fused' in l.qkv) ? 'region' : 'separate',
        up: weights.layers.some((l) => !('fused' in l.gateUp)),
      });
    } catch (error) {
      weights.destroy();
      throw error;
    }
    try {
      options.onProgress?.('pipelines', weights.totalBytes, weights.totalBytes);
      const cache = new PipelineCache(ctx, 'f32');
      const sizes = prefillSizes(chunk);
      const [decodePlan, ...prefillPlans] = await Promise.all([
        buildForwardPlan(cache, config, weights, workspace, 1, 'decode', kernelPath, fusions),
        ...sizes.map((n) => buildForwardPlan(cache, config, weights, workspace, n, `prefill.${n}`, kernelPath, fusions, 'last')),
      ]);
      const bySize = new Map(sizes.map((n, i) => [n, prefillPlans[i]!]));
      return new LlamaModel(ctx, config, weights, workspace, kernelPath, fusions, decodePlan!, bySize, cache);
    } catch (error) {
      weights.destroy();
      workspace.destroy();
      throw error;
    }
  }

  /** The decode and last-row prefill plans, for profiling (benchmarks); replaying them needs the step uniform set. */
  get plans(): { readonly decode: Plan; readonly prefill: Plan } {
    return { decode: this.decodePlan, prefill: this.prefillPlanFor(this.workspace.chunkTokens) };
  }

  /** Dispatches encoded per decode token (one compute pass, one submit). */
  get decodeDispatches(): number {
    return this.decodePlan.dispatchCount;
  }

  /** Dispatches of one prefill chunk that computes the last row's logits only. */
  get prefillDispatches(): number {
    return this.prefillPlanFor(this.workspace.chunkTokens).dispatchCount;
  }

  get contextLength(): number {
    return this.workspace.seqLen;
  }

  private submitStep(plan: Plan, pos: number, nTokens: number, after?: (encoder: GPUCommandEncoder) => void): void {
    const { device } = this.ctx;
    device.queue.writeBuffer(this.workspace.stepBuffer, 0, new Uint32Array([pos, nTokens]));
    const encoder = device.createCommandEncoder({ label: plan.label });
    const pass = encoder.beginComputePass({ label: plan.label });
    plan.encode(pass);
    pass.end();
    after?.(encoder);
    device.queue.submit([encoder.finish()]);
  }

  private checkTokens(tokens: readonly number[], startPos: number): void {
    if (startPos + tokens.length > this.contextLength) {
      throw new RangeError(`context full: ${startPos + tokens.length} tokens exceed the context of ${this.contextLength}`);
    }
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= this.config.vocabSize) throw new RangeError(`token id ${t} is outside the vocabulary (${this.config.vocabSize})`);
    }
  }

  /**
   * Runs `tokens` at positions startPos.. through the model in prefill chunks, filling the KV cache. Returns the
   * greedy next token; with `logitsOf = 'all'` also every row's logits, with 'last' only the last row's.
   */
  async forward(tokens: readonly number[], startPos: number, logitsOf: 'none' | 'last' | 'all' = 'none'): Promise<{ next: number; logits: Float32Array[] }> {
    if (tokens.length === 0) throw new RangeError('forward needs at least one token');
    this.checkTokens(tokens, startPos);
    const chunk = this.workspace.chunkTokens;
    const vocab = this.config.vocabSize;
    const logits: Float32Array[] = [];
    for (let at = 0; at < tokens.length; at += chunk) {
      const ids = tokens.slice(at, at + chunk);
      const isLast = at + chunk >= tokens.length;
      const rowsWanted = logitsOf === 'all' ? ids.length : logitsOf === 'last' && isLast ? 1 : 0;
      // Wanted rows start at logits row 0: 'all' wants every row; the decode and last-row prefill plans leave the last
      // token's logits in row 0.
      this.ctx.device.queue.writeBuffer(this.workspace.tokens.buffer, 0, new Uint32Array(ids));
      const plan = ids.length === 1 ? this.decodePlan : logitsOf === 'all' ? await this.prefillAll() : this.prefillPlanFor(ids.length);
      this.submitStep(plan, startPos + at, ids.length, (encoder) => {
        if (rowsWanted > 0) encoder.copyBufferToBuffer(this.workspace.logits.buffer, 0, this.logitsReadback, 0, rowsWanted * vocab * 4);
        if (isLast) encoder.copyBufferToBuffer(this.workspace.tokens.buffer, 0, this.tokenReadback, 0, 4);
      });
      if (rowsWanted > 0) {
        await this.logitsReadback.mapAsync(GPUMapMode.READ, 0, rowsWanted * vocab * 4);
        const all = new Float32Array(this.logitsReadback.getMappedRange(0, rowsWanted * vocab * 4).slice(0));
        this.logitsReadback.unmap();
        for (let r = 0; r < rowsWanted; r++) logits.push(all.subarray(r * vocab, (r + 1) * vocab));
      }
    }
    return { next: await this.readNextToken(), logits };
  }

  /**
   * One greedy decode step: the previous argmax already sits in tokens[0] on the GPU, so nothing but the step
   * uniform is written. Returns the token generated at position pos + 1.
   */
  async decodeGreedy(pos: number): Promise<number> {
    if (pos >= this.contextLength) throw new RangeError(`context full at position ${pos}`);
    this.submitStep(this.decodePlan, pos, 1, (encoder) => encoder.copyBufferToBuffer(this.workspace.tokens.buffer, 0, this.tokenReadback, 0, 4));
    return this.readNextToken();
  }

  /**
   * The smallest last-row prefill plan that holds `nTokens` (≤ the chunk): a plan computes every row it was built
   * for, so a 5-token prompt (or a prompt's 5-token tail) runs the 8-token plan, not the whole chunk.
   */
  private prefillPlanFor(nTokens: number): Plan {
    for (const [n, plan] of this.prefillPlans) if (n >= nTokens) return plan;
    throw new RangeError(`no prefill plan holds ${nTokens} tokens (chunk ${this.workspace.chunkTokens})`);
  }

  /** The chunk plan with every row's logits, built once on first use (pipelines are already compiled). */
  private prefillAll(): Promise<Plan> {
    this.prefillAllPlan ??= buildForwardPlan(
      this.pipelineCache, this.config, this.weights, this.workspace, this.workspace.chunkTokens, 'prefill-all', this.kernelPath, this.fusions, 'all',
    );
    return this.prefillAllPlan;
  }

  private async readNextToken(): Promise<number> {
    await this.tokenReadback.mapAsync(GPUMapMode.READ);
    const id = new Uint32Array(this.tokenReadback.getMappedRange())[0]!;
    this.tokenReadback.unmap();
    return id;
  }

  destroy(): void {
    this.decodePlan.destroy();
    for (const plan of this.prefillPlans.values()) plan.destroy();
    void this.prefillAllPlan?.then((plan) => plan.destroy(), () => undefined);
    this.weights.destroy();
    this.workspace.destroy();
    this.tokenReadback.destroy();
    this.logitsReadback.destroy();
  }
}

/**
 * Token counts of the last-row prefill plans built at load: powers of two from 2 below the chunk, and the chunk (in
 * increasing order). The cost of a prefill plan grows with its token count on compute-bound devices (measured on
 * lavapipe: a 4-token prompt of the Llama-3.2-1B shape in the 32-token plan took 26 s), while each extra plan costs
 * only bind groups and a params arena: the pipelines are shared.
 */
export function prefillSizes(chunk: number): number[] {
  const sizes: number[] = [];
  for (let n = 2; n < chunk; n *= 2) sizes.push(n);
  return chunk > 1 ? [...sizes, chunk] : [];
}
