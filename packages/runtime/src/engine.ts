// The in-process engine: the same object the worker exposes through comlink, usable directly in Node or in an app
// that manages its own workers. All state (device, model, tokenizer) lives here.
import { blobSource, bytesSource, readGguf, urlSource, type ByteSource } from '@qgpu/formats';
import { createDeviceContext, type DeviceContext } from '@qgpu/gpu';
import { SpmTokenizer, spmVocabFromGguf } from '@qgpu/tokenizer';
import type { Engine, EngineInfo, EngineMemory, GenerateOptions, GenerateResult, LoadOptions, ModelInfo, ModelSource, TextCallback } from './engine-api.ts';
import { llamaConfigFromGguf } from './llama/config.ts';
import { checkLlamaTensors } from './llama/load.ts';
import { LlamaModel } from './llama/model.ts';
import { chatApi, type ChatApi, type ChatCompletion, type ChatCompletionRequest } from './chat-api.ts';
import { runChatCompletion } from './chat.ts';
import { chatFormatFromGguf, type ChatFormat } from './chat-template.ts';
import { QgpuError } from './errors.ts';
import { checkKernelPath } from './ops.ts';
import { isGreedy, Sampler } from './sampling.ts';
import { StopMatcher } from './stop.ts';

export interface EngineOptions {
  /** The WebGPU entry point: `navigator.gpu` in browsers (the default), Dawn's `GPU` in Node. */
  gpu?: GPU;
  /** An already created device to share (tests, apps that own their device); takes precedence over `gpu`. */
  deviceContext?: DeviceContext;
}

function isByteSource(source: ModelSource | ByteSource): source is ByteSource {
  return typeof source === 'object' && 'read' in source && typeof source.read === 'function' && !(source instanceof Blob);
}

/** Turns whatever the caller gave into random-access bytes (URL: HTTP range requests; Blob/File: slices). */
export async function openSource(source: ModelSource | ByteSource, signal?: AbortSignal): Promise<ByteSource> {
  if (isByteSource(source)) return source;
  if (typeof source === 'string') return urlSource(source, signal ? { signal } : {});
  if (source instanceof Uint8Array) return bytesSource(source);
  return blobSource(source);
}

interface Loaded {
  readonly model: LlamaModel;
  readonly tokenizer: SpmTokenizer;
  readonly info: ModelInfo;
  readonly chatFormat: ChatFormat;
}

export class LocalEngine implements Engine {
  private ctx: DeviceContext | undefined;
  private loaded: Loaded | undefined;
  private busy = false;
  private abortRequested = false;

  constructor(private readonly options: EngineOptions = {}) {
    this.ctx = options.deviceContext;
  }

  private async device(): Promise<DeviceContext> {
    this.ctx ??= await createDeviceContext(this.options.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu);
    return this.ctx;
  }

  /** Loads a GGUF model. In-process callers may also pass any ByteSource (e.g. a Node file handle). */
  async load(source: ModelSource | ByteSource, options: LoadOptions = {}): Promise<ModelInfo> {
    if (options.kernelPath !== undefined) checkKernelPath(options.kernelPath);
    await this.unload();
    options.onProgress?.({ phase: 'header', loadedBytes: 0, totalBytes: 0 });
    const file = await readGguf(await openSource(source));
    const tokenizer = new SpmTokenizer(spmVocabFromGguf(file.metadata));
    checkLlamaTensors(file, llamaConfigFromGguf(file));
    const ctx = await this.device();
    const model = await LlamaModel.load(ctx, file, {
      ...(options.contextLength !== undefined ? { contextLength: options.contextLength } : {}),
      ...(options.kernelPath !== undefined ? { kernelPath: options.kernelPath } : {}),
      onProgress: (phase, loadedBytes, totalBytes) => options.onProgress?.({ phase, loadedBytes, totalBytes }),
    });
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
    if (!this.loaded) throw new QgpuError('no_model', 'no model is loaded: call load() first');
    return this.loaded;
  }

  async tokenize(text: string, addBos?: boolean): Promise<number[]> {
    return this.requireModel().tokenizer.encode(text, addBos === undefined ? {} : { addBos });
  }

  /** OpenAI-style chat: `engine.chat.completions.create({ messages, stream, … })` (chat.ts). */
  readonly chat: ChatApi = chatApi(this, async () => this.loaded?.info.name ?? '');

  /** The callback form of chat completions (what crosses the worker boundary); `chat` is built on it. */
  async chatCompletion(request: ChatCompletionRequest, onDelta?: TextCallback): Promise<ChatCompletion> {
    const { tokenizer, info, chatFormat } = this.requireModel();
    const encode = (text: string) => tokenizer.encode(text, { addBos: false });
    return runChatCompletion({ format: chatFormat, info, encode, generate: (ids, o, cb) => this.generate(ids, o, cb) }, request, onDelta);
  }

  async generate(prompt: string | readonly number[], options: GenerateOptions = {}, onText?: TextCallback): Promise<GenerateResult> {
    const { model, tokenizer } = this.requireModel();
    if (this.busy) throw new Error('a generation is already running on this engine; wait for it to finish');
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
    this.busy = true;
    this.abortRequested = false;
    try {
      const history = [...promptIds];
      const decoder = tokenizer.createDecoder();
      const generatedIds: number[] = [];
      let text = '';
      let stopReason: GenerateResult['stopReason'] = 'max_tokens';
      const t0 = performance.now();
      let firstTokenAt = t0;
      // Returns true when a stop string ended the generation.
      const emit = (id: number): boolean => {
        generatedIds.push(id);
        history.push(id);
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
          if (this.abortRequested) { stopReason = 'aborted'; break; }
          if (pos >= model.contextLength) { stopReason = 'context_full'; break; }
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
        promptIds, generatedIds, text, stopReason,
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

  async unload(): Promise<void> {
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
