// End-to-end measurements of one model on one adapter, shared by the Node CLI (e2e.ts) and the browser page
// (browser/bench-page.ts): load, time to first token, prefill and decode speed, per-token CPU encode cost, dispatches
// and submits per token, GPU time per kernel class (timestamp queries), weight bytes read per token against the
// copy-kernel bandwidth measured in the same run, and GPU memory allocated against weights + KV cache.
import { readGguf, type ByteSource } from '@qgpu/formats';
import type { DeviceContext, GpuTensor, Plan } from '@qgpu/gpu';
// Relative imports: @qgpu/bench does not list @qgpu/runtime as a workspace dependency (see BENCHMARKS.md).
import { layerLinears, LlamaModel, weightTensors } from '@qgpu/runtime';
import { median } from './timing.ts';

export interface ModelBenchOptions {
  /** Prompt lengths whose prefill is timed; the first one also gives the time to first token. */
  readonly promptLengths: readonly number[];
  /** Positions at which decode is timed (the KV cache is read up to there). */
  readonly decodeContexts: readonly number[];
  /** Tokens decoded per context. */
  readonly decodeTokens: number;
  readonly prefillChunk?: number;
  /** GPU time per kernel class with timestamp queries, when the adapter has them. */
  readonly profile: boolean;
  /**
   * Also time the first prompt length with every row's logits (forward 'all', the scoring plan): the cost the
   * last-row prefill plan avoids. That time includes reading the n × vocab logits back.
   */
  readonly compareAllLogits?: boolean;
  readonly seed?: number;
  readonly log?: (line: string) => void;
  /** Process CPU time in ms (Node: process.cpuUsage), to report encode cost in CPU time, immune to a busy host. */
  readonly cpuMs?: () => number;
}

export interface ModelBenchResult {
  readonly model: string;
  readonly fileBytes: number;
  readonly contextLength: number;
  /** Parse + repack + upload + pipeline compilation, from bytes in memory to a ready model. */
  readonly loadMs: number;
  readonly loadMBps: number;
  /** Prefill of the first prompt length until its greedy next token is read back. */
  readonly ttftMs: number;
  readonly prefill: readonly { readonly promptTokens: number; readonly ms: number; readonly tokS: number }[];
  /** The first prompt length with all rows' logits (compareAllLogits), or null. */
  readonly prefillAllLogits: { readonly promptTokens: number; readonly ms: number; readonly tokS: number } | null;
  readonly decode: readonly { readonly context: number; readonly tokens: number; readonly msPerToken: number; readonly tokS: number }[];
  readonly dispatchesPerToken: number;
  readonly submitsPerToken: number;
  /**
   * Median time to record one decode token: command encoder, one compute pass with every dispatch, finish (measured
   * without submitting, 32 times). The CPU cost qgpu adds per token before the GPU can start.
   */
  readonly encodeMsPerToken: number;
  /**
   * Process CPU time per recording of one decode token (mean over the same 32 recordings), or null without a CPU
   * clock (browsers). On a loaded host the wall-clock median includes time the thread was not running.
   */
  readonly encodeCpuMsPerToken: number | null;
  /** Median wall time of the synchronous part of decodeGreedy: step write, encode, finish, submit, mapAsync call. */
  readonly stepCallMsPerToken: number;
  /** Summed GPU time per kernel class for one decode token (µs), or null with the reason in gpuTimeNote. */
  readonly gpuUsByClass: Readonly<Record<string, number>> | null;
  readonly gpuTimeNote: string;
  /** Weight bytes one decode token reads (every linear and norm once; one embedding row). */
  readonly weightBytesPerToken: number;
  /** weightBytesPerToken / decode time at the first decode context, GB/s. */
  readonly achievedGBps: number;
  readonly gpuBytesAllocated: number;
  readonly weightGpuBytes: number;
  readonly kvCacheBytes: number;
}

/** Class of a dispatch for the GPU-time table, from its kernel name and label. */
export function kernelClass(kernel: string, label: string): string {
  if (label.startsWith('output')) return 'lm_head';
  if (/^(matmul|gemm|lut_gemv)/.test(kernel)) return 'linear';
  if (/^(quantize_act|lut_build)/.test(kernel)) return 'linear_input';
  if (kernel.startsWith('attention')) return 'attention';
  if (kernel.startsWith('kv_write')) return 'kv_write';
  if (kernel.startsWith('rms_norm')) return 'rms_norm';
  if (kernel.startsWith('rope')) return 'rope';
  if (kernel.startsWith('embed') || kernel === 'offset_ids') return 'embed';
  if (kernel === 'argmax') return 'argmax';
  return 'elementwise';
}

/** Seeded prompt ids past the special tokens (ids 0..2 are unk/bos/eos in SentencePiece vocabularies). */
function promptIds(n: number, vocab: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return 3 + (s % (vocab - 3));
  });
}

/** Calls `fn` with `method` of `proto` spied on; returns what the spy saw. Spies never stay installed. */
async function spying<T>(proto: object, method: string, onCall: (args: unknown[]) => void, fn: () => Promise<T>): Promise<T> {
  const target = proto as Record<string, (...args: unknown[]) => unknown>;
  const original = target[method]!;
  target[method] = function (this: unknown, ...args: unknown[]) {
    onCall(args);
    return original.apply(this, args);
  };
  try {
    return await fn();
  } finally {
    target[method] = original;
  }
}

/** One decode token's dispatches, each in its own pass between two timestamps; µs summed per kernel class. */
async function profileDecode(ctx: DeviceContext, plan: Plan): Promise<Record<string, number>> {
  const { device } = ctx;
  const n = plan.dispatchCount;
  const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * n });
  const resolve = device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const readback = device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    const encoder = device.createCommandEncoder();
    plan.encodeEach(encoder, (i) => ({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } }));
    encoder.resolveQuerySet(querySet, 0, 2 * n, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, readback, 0, 16 * n);
    device.queue.submit([encoder.finish()]);
    await readback.mapAsync(GPUMapMode.READ);
    const stamps = new BigUint64Array(readback.getMappedRange().slice(0));
    readback.unmap();
    const byClass: Record<string, number> = {};
    plan.dispatchInfo.forEach(({ kernel, label }, i) => {
      const us = Number(stamps[2 * i + 1]! - stamps[2 * i]!) / 1000;
      const c = kernelClass(kernel, label);
      byClass[c] = (byClass[c] ?? 0) + us;
    });
    return byClass;
  } finally {
    querySet.destroy();
    resolve.destroy();
    readback.destroy();
  }
}

/** Decode steps whose submits are counted (apart from the timed ones). */
const SUBMIT_COUNT = 2;

export async function benchModel(ctx: DeviceContext, name: string, source: ByteSource, options: ModelBenchOptions): Promise<ModelBenchResult> {
  const log = options.log ?? (() => undefined);
  const seed = options.seed ?? 7;
  const longestPrompt = Math.max(...options.promptLengths);
  // Decode runs `decodeTokens` timed steps, then SUBMIT_COUNT counted ones, from each context.
  const contextLength = Math.max(longestPrompt, ...options.decodeContexts.map((c) => c + Math.max(options.decodeTokens, SUBMIT_COUNT))) + 1;

  const created: number[] = [];
  const loadStart = performance.now();
  const model = await spying(GPUDevice.prototype, 'createBuffer', (args) => created.push((args[0] as GPUBufferDescriptor).size), async () => {
    const file = await readGguf(source);
    return LlamaModel.load(ctx, file, { contextLength, ...(options.prefillChunk ? { prefillChunk: options.prefillChunk } : {}) });
  });
  const loadMs = performance.now() - loadStart;
  try {
    const vocab = model.config.vocabSize;
    log(`  ${name}: loaded in ${(loadMs / 1000).toFixed(1)} s (context ${model.contextLength}, ${model.decodeDispatches} dispatches/token)`);
    // Warm-up: the first submits of each plan pay for lazy pipeline finalisation and first page touches.
    await model.forward(promptIds(2, vocab, seed + 1), 0);
    await model.decodeGreedy(2);

    const prefill: { promptTokens: number; ms: number; tokS: number }[] = [];
    for (const n of options.promptLengths) {
      const t0 = performance.now();
      await model.forward(promptIds(n, vocab, seed + n), 0);
      const ms = performance.now() - t0;
      prefill.push({ promptTokens: n, ms, tokS: (n * 1000) / ms });
      log(`  ${name}: prefill ${n} tokens in ${ms.toFixed(0)} ms`);
    }

    let prefillAllLogits: ModelBenchResult['prefillAllLogits'] = null;
    if (options.compareAllLogits) {
      const n = options.promptLengths[0]!;
      await model.forward(promptIds(2, vocab, seed + 2), 0, 'all'); // builds the scoring plan (first use)
      const t0 = performance.now();
      await model.forward(promptIds(n, vocab, seed + n), 0, 'all');
      const ms = performance.now() - t0;
      prefillAllLogits = { promptTokens: n, ms, tokS: (n * 1000) / ms };
      log(`  ${name}: prefill ${n} tokens with all rows' logits in ${ms.toFixed(0)} ms`);
    }

    const decode: { context: number; tokens: number; msPerToken: number; tokS: number }[] = [];
    const encodeMs: number[] = [];
    for (const context of options.decodeContexts) {
      // The KV cache below `context` holds whatever earlier steps left (the cost of attention depends on the
      // position, not on the values), so a long context is reached without prefilling it.
      const t0 = performance.now();
      for (let i = 0; i < options.decodeTokens; i++) {
        const before = performance.now();
        const step = model.decodeGreedy(context + i);
        encodeMs.push(performance.now() - before);
        await step;
      }
      const msPerToken = (performance.now() - t0) / options.decodeTokens;
      decode.push({ context, tokens: options.decodeTokens, msPerToken, tokS: 1000 / msPerToken });
      log(`  ${name}: decode at ${context}: ${msPerToken.toFixed(1)} ms/token`);
    }

    // Submits counted apart from the timed loop, so the spy costs nothing there.
    let submits = 0;
    await spying(GPUQueue.prototype, 'submit', () => submits++, async () => {
      for (let i = 0; i < SUBMIT_COUNT; i++) await model.decodeGreedy(options.decodeContexts[0]! + i);
    });

    const encodeOnlyMs: number[] = [];
    const cpuStart = options.cpuMs?.();
    for (let i = 0; i < 32; i++) {
      const t0 = performance.now();
      const encoder = ctx.device.createCommandEncoder({ label: 'bench.encode' });
      const pass = encoder.beginComputePass();
      model.plans.decode.encode(pass);
      pass.end();
      encoder.finish();
      encodeOnlyMs.push(performance.now() - t0);
    }
    const encodeCpuMsPerToken = cpuStart === undefined ? null : (options.cpuMs!() - cpuStart) / 32;

    let gpuUsByClass: Record<string, number> | null = null;
    let gpuTimeNote: string;
    if (!options.profile) gpuTimeNote = 'not requested';
    else if (!ctx.features.has('timestamp-query')) gpuTimeNote = "the adapter lacks 'timestamp-query'";
    else {
      gpuUsByClass = await profileDecode(ctx, model.plans.decode);
      gpuTimeNote = 'one decode token, each dispatch in its own timestamped pass';
    }

    const w = model.weights;
    const sum = (ts: readonly { byteLength: number }[]) => ts.reduce((a, t) => a + t.byteLength, 0);
    const layerBytes = w.layers.reduce((acc, layer) => acc + sum([layer.attnNorm, layer.ffnNorm])
      + layerLinears(layer).reduce((a, m) => a + sum(weightTensors(m)), 0), 0);
    const outputBytes = w.output.pieces.reduce((a, p) => a + sum(weightTensors(p.weight)), 0);
    const embedRowBytes = w.tokenEmbedding.pieces.reduce((a, p) => a + sum(weightTensors(p.weight)), 0) / w.tokenEmbedding.rows;
    const weightBytesPerToken = layerBytes + outputBytes + w.outputNorm.byteLength + embedRowBytes;
    const weightGpuBytes = layerBytes + w.outputNorm.byteLength + outputBytes
      + (w.output === w.tokenEmbedding ? 0 : w.tokenEmbedding.pieces.reduce((a, p) => a + sum(weightTensors(p.weight)), 0));
    const kvCacheBytes = model.workspace.kvCache.reduce((a, layer) => a + sum(Object.values(layer).filter((t): t is GpuTensor => typeof t === 'object')), 0);
    return {
      model: name,
      fileBytes: source.byteLength,
      contextLength: model.contextLength,
      loadMs,
      loadMBps: source.byteLength / 1e6 / (loadMs / 1000),
      ttftMs: prefill[0]?.ms ?? NaN,
      prefill,
      prefillAllLogits,
      decode,
      dispatchesPerToken: model.decodeDispatches,
      submitsPerToken: submits / SUBMIT_COUNT,
      encodeMsPerToken: median(encodeOnlyMs),
      encodeCpuMsPerToken,
      stepCallMsPerToken: median(encodeMs),
      gpuUsByClass,
      gpuTimeNote,
      weightBytesPerToken,
      achievedGBps: weightBytesPerToken / (decode[0]!.msPerToken / 1000) / 1e9,
      gpuBytesAllocated: created.reduce((a, b) => a + b, 0),
      weightGpuBytes,
      kvCacheBytes,
    };
  } finally {
    model.destroy();
  }
}
