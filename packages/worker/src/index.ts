// Main-thread side of the engine. Only `import type` from @qgpu/runtime so that no GPU code lands in the UI bundle.
import * as Comlink from 'comlink';
import type { Engine, GenerateOptions, GenerateResult } from '@qgpu/runtime';
import { chatApi, pieceStream, type ChatApi, type PieceStream } from '@qgpu/runtime/client';
import { registerCallbackHandler } from './callbacks.ts';

// Re-exported (types only) so UI code can depend on @qgpu/worker alone.
export type {
  Engine, EngineInfo, GenerateOptions, GenerateResult, GenerateStats, LoadOptions, LoadProgress, ModelInfo, ModelSource,
  PerplexityOptions, PerplexityResult, TextCallback, EngineMemory, AdapterDescription, SamplingOptions,
} from '@qgpu/runtime';
export {
  QgpuError, type ChatApi, type ChatCompletion, type ChatCompletionChunk, type ChatCompletionRequest, type ChatCompletionStream,
  type ChatCompletionUsage, type ChatMessage, type FinishReason, type QgpuErrorCode,
} from '@qgpu/runtime/client';

export type RemoteEngine = Comlink.Remote<Engine>;

/**
 * Wraps a worker that called `exposeEngine()`. Callbacks (onProgress, onText) may be passed as plain functions,
 * also inside the options object: a transfer handler proxies them across.
 */
export function connectEngine(worker: Worker): RemoteEngine {
  registerCallbackHandler();
  return Comlink.wrap<Engine>(worker);
}

export interface WorkerEngine extends Engine {
  readonly remote: RemoteEngine;
  /** OpenAI-style chat: `chat.completions.create({ messages, stream, … })`, streaming across the worker. */
  readonly chat: ChatApi;
  /** Ends the worker (and with it the GPU device and model); pending and later calls reject. */
  terminate(): void;
}

/**
 * An `Engine` backed by a worker. Unlike a bare comlink proxy, its calls reject when the worker is terminated or
 * fails to start, instead of never settling.
 */
export function createWorkerEngine(worker: Worker): WorkerEngine {
  const remote = connectEngine(worker);
  let fail: (error: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => { fail = reject; });
  failed.catch(() => {});
  worker.addEventListener('error', (event) => {
    fail(new Error(`engine worker failed: ${event.message || 'the worker script could not be loaded'}`));
  });
  const guard = <T>(call: Promise<T>): Promise<T> => Promise.race([call, failed]);
  const chatCompletion: Engine['chatCompletion'] = (request, onDelta) => guard(remote.chatCompletion(request, onDelta));
  const abort = () => guard(remote.abort());
  return {
    remote,
    chat: chatApi({ chatCompletion, abort }, async () => (await guard(remote.info())).model?.name ?? ''),
    chatCompletion,
    load: (source, options) => guard(remote.load(source, options)),
    generate: (prompt, options, onText) => guard(remote.generate(prompt, options, onText)),
    tokenize: (text, addBos) => guard(remote.tokenize(text, addBos)),
    perplexity: (text, options) => guard(remote.perplexity(text, options)),
    info: () => guard(remote.info()),
    stats: () => guard(remote.stats()),
    abort,
    unload: () => guard(remote.unload()),
    terminate() {
      worker.terminate();
      fail(new Error('the engine worker was terminated'));
    },
  };
}

/** Generated text pieces as an async iterable; `result` is the full GenerateResult (its `text` is authoritative). */
export type TextStream = PieceStream<GenerateResult>;

/**
 * Streams generated text pieces (generation starts immediately). Works for a worker engine and an in-process one;
 * see `pieceStream` in @qgpu/runtime for how pieces overtaken by the result are handled.
 */
export function streamGenerate(engine: Pick<Engine, 'generate'>, prompt: string, options?: GenerateOptions): TextStream {
  return pieceStream((onText) => engine.generate(prompt, options, onText), (r) => r.text);
}

/**
 * Starts the engine in a module Web Worker and returns it: all GPU work and model state live in the worker.
 * Bundlers (Vite, webpack 5, esbuild with a plugin) follow the `new URL(…, import.meta.url)` to bundle the worker;
 * the no-bundler build (`pnpm build:worker`, dist/qgpu.js) ships it beside qgpu.js and finds it the same way.
 * `options.worker`: a Worker you started yourself (e.g. with a Trusted Types script URL) that calls exposeEngine().
 */
export function createEngine(options: { worker?: Worker } = {}): WorkerEngine {
  const worker = options.worker ?? new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module', name: 'qgpu-engine' });
  return createWorkerEngine(worker);
}
