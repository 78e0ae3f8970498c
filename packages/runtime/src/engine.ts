// The in-process engine: the same object the worker exposes through comlink, usable directly in Node or in an app
// that manages its own workers. All state (device, model, tokenizer) lives here.
import { blobSource, bytesSource, FormatError, readGguf, urlSource, type ByteSource } from '@qgpu/formats';
import { createDeviceContext, type DeviceContext } from '@qgpu/gpu';
import type { Tokenizer } from '@qgpu/tokenizer';
import type {
  Engine, EngineInfo, EngineMemory, GenerateOptions, GenerateStats, GenerateResult, LoadOptions, ModelFile, ModelInfo, ModelSource, TextCallback,
} from './engine-api.ts';
import { LlamaModel } from './llama/model.ts';
import { ggufSourceOf, isHfSource, openHfModel, type LocalHfModelSource } from './llama/hf-source.ts';
import { openModelFile, withRate } from './cache.ts';
import { chatApi, type ChatApi, type ChatCompletion, type ChatCompletionRequest } from './chat-api.ts';
import { runChatCompletion } from './chat.ts';
import { chatFormatFromGguf, type ChatFormat } from './chat-template.ts';
import { QgpuError } from './errors.ts';
import { checkGpuFit, checkModelFile, estimateGpuMemory } from './model-check.ts';
import { checkContextKeep, checkContextOverflow, shiftedContext } from './llama/context.ts';
import { checkKernelPath, checkKvCacheType } from './ops.ts';
import { perplexityOfTokens, type PerplexityOptions, type PerplexityResult } from './perplexity.ts';
import { isGreedy, Sampler } from './sampling.ts';
import { StopMatcher } from './stop.ts';

export interface EngineOptions {
  /** The WebGPU entry point: `navigator.gpu` in browsers (the default), Dawn's `GPU` in Node. */
  gpu?: GPU;
  /** An already created device to share (tests, apps that own their device); takes precedence over `gpu`. */
  deviceContext?: DeviceContext;
  /**
   * Called once when the GPU device is lost (driver reset, `device.destroy()`, the browser reclaiming the GPU). The
   * model is gone with it: later calls reject with QgpuError 'device_lost' until `load()` runs again on a new device.
   */
  onDeviceLost?: (event: DeviceLostEvent) => void;
  /**
   * Most GPU memory a model may take, in bytes (weights, KV cache and workspace, estimated before allocating). Browsers
   * do not report free GPU memory, so this is how an app fails early instead of at allocation. Default: no budget.
   */
  gpuMemoryBudgetBytes?: number;
}

/** What `GPUDevice.lost` reported. */
export interface DeviceLostEvent {
  /** 'destroyed' (device.destroy()) or 'unknown' (driver reset, lost adapter). */
  readonly reason: string;
  readonly message: string;
}

/** Rejects with QgpuError 'aborted' when `signal` fires before `promise` settles. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortedError(what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortedError(what));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function abortedError(what: string): QgpuError {
  return new QgpuError('aborted', `${what} was aborted`);
}

/**
 * Runs `create` inside out-of-memory and validation error scopes: if the GPU reports either, what was created is
 * destroyed and a QgpuError 'gpu_allocation' names the GPU's message, so a failed load leaves nothing allocated.
 */
async function withAllocationScopes<T extends { destroy(): void }>(device: GPUDevice, create: () => Promise<T>): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let created: T | undefined;
  let thrown: { error: unknown } | undefined;
  try {
    created = await create();
  } catch (error) {
    thrown = { error };
  }
  const validation = await device.popErrorScope();
  const outOfMemory = await device.popErrorScope();
  const gpuError = outOfMemory ?? validation;
  if (gpuError) {
    created?.destroy();
    const kind = outOfMemory ? 'out of GPU memory' : 'GPU validation error';
    throw new QgpuError('gpu_allocation', `loading the model failed (${kind}: ${gpuError.message.split('\n')[0]}); everything allocated for it was freed`);
  }
  if (thrown) throw thrown.error;
  return created!;
}

function isByteSource(source: ModelFile | ByteSource): source is ByteSource {
  return typeof source === 'object' && 'read' in source && typeof source.read === 'function' && !(source instanceof Blob);
}

/** Turns whatever the caller gave into random-access bytes (URL: HTTP range requests; Blob/File: slices). */
export async function openSource(source: ModelFile | ByteSource, signal?: AbortSignal): Promise<ByteSource> {
  if (isByteSource(source)) return source;
  if (typeof source === 'string') return urlSource(source, signal ? { signal } : {});
  if (source instanceof Uint8Array) return bytesSource(source);
  return blobSource(source);
}

interface Loaded {
  readonly model: LlamaModel;
  readonly tokenizer: Tokenizer;
  readonly info: ModelInfo;
  readonly chatFormat: ChatFormat;
}

export class LocalEngine implements Engine {
  private ctx: DeviceContext | undefined;
  private loaded: Loaded | undefined;
  private busy = false;
  private abortRequested = false;
  /** Set when the device was lost; calls report it until load() starts over on a new device. */
  private lost: DeviceLostEvent | undefined;
  /**
   * Tail of the operation queue: load, generate, perplexity and unload run one at a time, in call order (a second
   * generate waits for the first instead of failing; docs/reliability.md). Never rejects.
   */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: EngineOptions = {}) {
    this.ctx = options.deviceContext;
    if (this.ctx) this.watchDevice(this.ctx);
  }

  private async device(): Promise<DeviceContext> {
    if (!this.ctx) {
      const ctx = await createDeviceContext(this.options.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu);
      this.watchDevice(ctx);
      this.ctx = ctx;
    }
    return this.ctx;
  }

  private watchDevice(ctx: DeviceContext): void {
    void ctx.device.lost.then((info) => {
      if (this.ctx !== ctx) return;
      const event: DeviceLostEvent = { reason: info.reason ?? 'unknown', message: info.message };
      // The model's buffers died with the device; the next load() creates a new device and starts over.
      this.ctx = undefined;
      this.loaded = undefined;
      this.lost = event;
      this.options.onDeviceLost?.(event);
    });
  }

  private deviceLostError(): QgpuError {
    const { reason, message } = this.lost!;
    return new QgpuError('device_lost', `the GPU device was lost (${reason}${message ? `: ${message.split('\n')[0]}` : ''}); call load() to reload the model`);
  }

  /**
   * Runs `task` when every earlier operation has finished. A signal that fires while waiting rejects at once (the
   * queue order is kept); an error caused by losing the device is reported as QgpuError 'device_lost'.
   */
  private exclusive<T>(signal: AbortSignal | undefined, what: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((resolve) => { release = resolve; });
    return (async () => {
      try {
        await raceAbort(previous, signal, what);
        if (signal?.aborted) throw abortedError(what);
        return await task();
      } catch (error) {
        if (this.lost && !(error instanceof QgpuError) && !(error instanceof FormatError)) throw this.deviceLostError();
        // The signal's own reason (an AbortError DOMException from throwIfAborted) becomes the engine's typed error.
        if (signal?.aborted && !(error instanceof QgpuError)) throw abortedError(what);
        throw error;
      } finally {
        void previous.then(release);
      }
    })();
  }

  /**
   * Loads a GGUF model (after any running operation; it replaces the loaded model). In-process callers may also pass
   * any ByteSource (e.g. a Node file handle). The file is checked completely before the GPU is touched; `signal`
   * stops the load between tensors, freeing what was uploaded.
   */
  async load(source: ModelSource | ByteSource | LocalHfModelSource, options: LoadOptions = {}): Promise<ModelInfo> {
    if (options.kernelPath !== undefined) checkKernelPath(options.kernelPath);
    return this.exclusive(options.signal, 'load', () => this.loadNow(source, options));
  }

  private async loadNow(source: ModelSource | ByteSource | LocalHfModelSource, options: LoadOptions): Promise<ModelInfo> {
    const signal = options.signal;
    this.unloadNow();
    options.onProgress?.({ phase: 'header', loadedBytes: 0, totalBytes: 0 });
    const file = await raceAbort(isHfSource(source) ? openHfModel(source, options, signal)
      : openModelFile(ggufSourceOf(source, options), options, (s) => openSource(s, signal).then(readGguf)), signal, 'load');
    const checked = checkModelFile(file);
    const tokenizer = checked.tokenizer;
    const ctx = await this.device();
    this.lost = undefined;
    checkGpuFit(estimateGpuMemory(checked, options.contextLength ?? checked.config.contextLength, options.kvCache ?? 'f32'), ctx.limits, this.options.gpuMemoryBudgetBytes);
    const model = await withAllocationScopes(ctx.device, () => LlamaModel.load(ctx, file, {
      ...(signal !== undefined ? { signal } : {}),
      ...(options.contextLength !== undefined ? { contextLength: options.contextLength } : {}),
      ...(options.kernelPath !== undefined ? { kernelPath: options.kernelPath } : {}),
      ...(options.crossQuant !== undefined ? { crossQuant: options.crossQuant } : {}),
      ...(options.fuse !== undefined ? { fuse: options.fuse } : {}),
      ...(options.kvCache !== undefined ? { kvCache: checkKvCacheType(options.kvCache) } : {}),
      ...(options.positionEncoding !== undefined ? { positionEncoding: options.positionEncoding } : {}),
      onProgress: withRate(options.onProgress),
    }));
    const c = model.config;
    const chatFormat = chatFormatFromGguf(file.metadata);
    const info: ModelInfo = {
      name: c.name, architecture: c.architecture, dim: c.dim, nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads,
      vocabSize: c.vocabSize, contextLength: model.contextLength, weightBytes: model.weights.totalBytes,
      chatTemplate: chatFormat.template,
    };
    this.loaded = { model, tokenizer, info, chatFormat };
    options.onProgress?.({ phase: 'ready', loadedBytes: model.weights.totalBytes, totalBytes: model.weights.totalBytes });
    return info;
  }

  private requireModel(): Loaded {
    if (!this.loaded && this.lost) throw this.deviceLostError();
    if (!this.loaded) throw new QgpuError('no_model', 'no model is loaded: call load() first');
    return this.loaded;
  }

  async tokenize(text: string, addBos?: boolean): Promise<number[]> {
    return this.requireModel().tokenizer.encode(text, addBos === undefined ? {} : { addBos });
  }

  private lastStats: GenerateStats | null = null;

  /** Timings of the last finished generation (generate or chat), or null before the first. */
  async stats(): Promise<GenerateStats | null> {
    return this.lastStats;
  }

  /** OpenAI-style chat: `engine.chat.completions.create({ messages, stream, … })` (chat.ts). */
  readonly chat: ChatApi = chatApi(this, async () => this.loaded?.info.name ?? '');

  /** The callback form of chat completions (what crosses the worker boundary); `chat` is built on it. */
  async chatCompletion(request: ChatCompletionRequest, onDelta?: TextCallback): Promise<ChatCompletion> {
    const { tokenizer, info, chatFormat } = this.requireModel();
    const encode = (text: string) => tokenizer.encode(text, { addBos: false });
    return runChatCompletion({ format: chatFormat, info, encode, generate: (ids, o, cb) => this.generate(ids, o, cb) }, request, onDelta);
  }

  /**
   * Generates after every earlier operation has finished (calls queue in order). `options.signal` rejects a call
   * still waiting with QgpuError 'aborted'; once running, it stops after the current token like abort().
   */
  async generate(prompt: string | readonly number[], options: GenerateOptions = {}, onText?: TextCallback): Promise<GenerateResult> {
    return this.exclusive(options.signal, 'generate', () => this.generateNow(prompt, options, onText).then((r) => { this.lastStats = r.stats; return r; }));
  }

  private async generateNow(prompt: string | readonly number[], options: GenerateOptions, onText?: TextCallback): Promise<GenerateResult> {
    const { model, tokenizer } = this.requireModel();
    const maxTokens = options.maxTokens ?? 64;
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new RangeError(`maxTokens must be a non-negative integer, got ${maxTokens}`);
    // Validates every sampling option up front; plain greedy keeps the argmax on the GPU (no logits read back).
    const sampler = new Sampler(options);
    const greedy = isGreedy(sampler.config);
    const stopper = new StopMatcher(options.stop);
    const promptIds = typeof prompt === 'string' ? tokenizer.encode(prompt, options.addBos === false ? { addBos: false } : {}) : [...prompt];
    if (promptIds.length === 0) throw new RangeError('the prompt is empty');
    const badId = promptIds.find((id) => !Number.isInteger(id) || id < 0 || id >= model.config.vocabSize);
    if (badId !== undefined) throw new RangeError(`prompt token id ${badId} is not in the vocabulary (0…${model.config.vocabSize - 1})`);
    if (promptIds.length >= model.contextLength) {
      throw new RangeError(`the prompt has ${promptIds.length} tokens but the context holds ${model.contextLength}`);
    }
    const overflow = checkContextOverflow(options.contextOverflow ?? 'stop');
    const nKeep = options.contextKeep ?? (promptIds[0] === tokenizer.bosId ? 1 : 0);
    if (overflow === 'shift') checkContextKeep(nKeep, model.contextLength);
    this.busy = true;
    this.abortRequested = false;
    try {
      const history = [...promptIds];
      // The tokens in the KV cache, in position order, then the one about to be fed: history until a context shift.
      let window = [...promptIds];
      const decoder = tokenizer.createDecoder();
      const generatedIds: number[] = [];
      let text = '';
      let stopReason: GenerateResult['stopReason'] = 'max_tokens';
      let stopDetail: string | undefined;
      let contextShifts = 0;
      const t0 = performance.now();
      let firstTokenAt = t0;
      // Returns true when a stop string ended the generation.
      const emit = (id: number): boolean => {
        generatedIds.push(id);
        history.push(id);
        window.push(id);
        const step = stopper.push(decoder.push(id));
        text += step.text;
        if (step.text) onText?.(step.text, id);
        return step.stopped;
      };
      const pick = (gpuArgmax: number, logits: Float32Array[]) => (greedy ? gpuArgmax : sampler.sample(logits[logits.length - 1]!, history));

      let pos = promptIds.length;
      if (maxTokens > 0) {
        const first = await model.forward(promptIds, 0, greedy ? 'none' : 'last');
        firstTokenAt = performance.now();
        let next = pick(first.next, first.logits);
        while (true) {
          if (options.stopAtEos !== false && next === tokenizer.eosId) { stopReason = 'eos'; break; }
          if (emit(next)) { stopReason = 'stop'; break; }
          if (generatedIds.length >= maxTokens) break;
          if (this.abortRequested || options.signal?.aborted) { stopReason = 'aborted'; break; }
          if (pos >= model.contextLength && overflow === 'stop') {
            stopReason = 'context_full';
            stopDetail = `the KV cache is full: ${pos} tokens fill the context of ${model.contextLength}; generate with `
              + "contextOverflow: 'shift' to keep going, or load with a larger contextLength";
            break;
          }
          if (pos >= model.contextLength) {
            // Re-prefill the kept tokens from position 0 (their last one is `next`); the prediction after them is next.
            const kept = shiftedContext(window, nKeep, model.contextLength);
            const step = await model.forward(kept, 0, greedy ? 'none' : 'last');
            next = pick(step.next, step.logits);
            pos = kept.length;
            window = kept;
            contextShifts++;
            continue;
          }
          if (greedy) {
            next = await model.decodeGreedy(pos);
          } else {
            const step = await model.forward([next], pos, 'last');
            next = pick(step.next, step.logits);
          }
          pos++;
        }
      }
      const last = stopReason === 'stop' ? { text: '', stopped: true } : stopper.push(decoder.flush());
      if (last.stopped && stopReason !== 'stop') stopReason = 'stop';
      const tail = last.text + stopper.flush();
      text += tail;
      if (tail) onText?.(tail, -1);
      const t1 = performance.now();
      const prefillMs = firstTokenAt - t0;
      const decodeMs = t1 - firstTokenAt;
      const decodeSteps = Math.max(0, generatedIds.length - 1);
      return {
        promptIds, generatedIds, text, stopReason, contextShifts,
        ...(stopDetail !== undefined ? { stopDetail } : {}),
        stats: {
          promptTokens: promptIds.length,
          generatedTokens: generatedIds.length,
          prefillMs,
          decodeMs,
          timeToFirstTokenMs: prefillMs,
          prefillTokensPerSecond: prefillMs > 0 ? (promptIds.length / prefillMs) * 1000 : 0,
          decodeTokensPerSecond: decodeMs > 0 ? (decodeSteps / decodeMs) * 1000 : 0,
        },
      };
    } finally {
      this.busy = false;
    }
  }

  async perplexity(text: string, options: PerplexityOptions = {}): Promise<PerplexityResult> {
    return this.exclusive(undefined, 'perplexity', () => this.perplexityNow(text, options));
  }

  private async perplexityNow(text: string, options: PerplexityOptions): Promise<PerplexityResult> {
    const { model, tokenizer } = this.requireModel();
    this.busy = true;
    try {
      const ids = tokenizer.encode(text);
      const scorer = {
        contextLength: model.contextLength,
        vocabSize: model.config.vocabSize,
        forward: (tokens: readonly number[], startPos: number, logitsOf: 'none' | 'all') => model.forward(tokens, startPos, logitsOf),
      };
      return await perplexityOfTokens(scorer, ids, tokenizer.addBos ? tokenizer.bosId : undefined, options);
    } finally {
      this.busy = false;
    }
  }

  async abort(): Promise<void> {
    if (this.busy) this.abortRequested = true;
  }

  async info(): Promise<EngineInfo> {
    const ctx = this.ctx;
    return {
      adapter: ctx ? {
        ...ctx.adapterInfo,
        features: [...ctx.features].sort(),
        maxStorageBufferBindingSize: ctx.limits.maxStorageBufferBindingSize,
        maxBufferSize: ctx.limits.maxBufferSize,
        limits: { ...ctx.limits },
      } : null,
      model: this.loaded?.info ?? null,
      memory: this.loaded ? memoryOf(this.loaded.model) : null,
    };
  }

  /** Frees the model's GPU memory, after any running operation. The device stays, for the next load. */
  async unload(): Promise<void> {
    return this.exclusive(undefined, 'unload', async () => this.unloadNow());
  }

  private unloadNow(): void {
    this.loaded?.model.destroy();
    this.loaded = undefined;
  }

  /** The loaded model and tokenizer, for tools (CLI scoring) that need more than the Engine interface. */
  get current(): Loaded | undefined {
    return this.loaded;
  }
}

/** GPU memory the model holds: weights, KV cache, and the rest of the workspace (activations, logits, tables). */
function memoryOf(model: LlamaModel): EngineMemory {
  const kvCacheBytes = model.workspace.kvCache.reduce((sum, layer) =>
    sum + layer.k.byteLength + layer.v.byteLength + (layer.type === 'int8' ? layer.kScale.byteLength + layer.vScale.byteLength : 0), 0);
  return { weightBytes: model.weights.totalBytes, kvCacheBytes, workspaceBytes: model.workspace.byteSize - kvCacheBytes };
}

/** Creates an in-process engine. In a browser prefer `@qgpu/worker`, which runs this engine in a Web Worker. */
export function createEngine(options: EngineOptions = {}): LocalEngine {
  return new LocalEngine(options);
}
