// Main-thread side of the engine. Only `import type` from @qgpu/runtime so that no GPU code lands in the UI bundle.
import * as Comlink from 'comlink';
import type { Engine, GenerateOptions, GenerateResult } from '@qgpu/runtime';
import { registerCallbackHandler } from './callbacks.ts';

// Re-exported (types only) so UI code can depend on @qgpu/worker alone.
export type {
  Engine, EngineInfo, GenerateOptions, GenerateResult, GenerateStats, LoadOptions, LoadProgress, ModelInfo, ModelSource, TextCallback,
} from '@qgpu/runtime';

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
  return {
    remote,
    load: (source, options) => guard(remote.load(source, options)),
    generate: (prompt, options, onText) => guard(remote.generate(prompt, options, onText)),
    tokenize: (text, addBos) => guard(remote.tokenize(text, addBos)),
    info: () => guard(remote.info()),
    abort: () => guard(remote.abort()),
    unload: () => guard(remote.unload()),
    terminate() {
      worker.terminate();
      fail(new Error('the engine worker was terminated'));
    },
  };
}

export interface TextStream extends AsyncIterable<string> {
  /** The full result; its `text` is authoritative. */
  readonly result: Promise<GenerateResult>;
}

/**
 * Streams generated text pieces. Generation starts immediately. Pieces travel on their own message channel, so
 * the result can overtake the last pieces: the stream ends with whatever part of `result.text` it has not yet
 * yielded, and ignores pieces that arrive after that.
 */
export function streamGenerate(engine: Pick<Engine, 'generate'>, prompt: string, options?: GenerateOptions): TextStream {
  const queue: string[] = [];
  let wake = (): void => {};
  let streamed = '';
  let finished = false;
  let failure: { readonly error: unknown } | undefined;
  const push = (piece: string): void => {
    streamed += piece;
    queue.push(piece);
    wake();
  };
  const result = engine.generate(prompt, options, (piece) => { if (!finished) push(piece); });
  result.then(
    (r) => {
      if (r.text.length > streamed.length && r.text.startsWith(streamed)) push(r.text.slice(streamed.length));
      finished = true;
      wake();
    },
    (error: unknown) => {
      failure = { error };
      finished = true;
      wake();
    },
  );
  async function* pieces(): AsyncGenerator<string> {
    while (true) {
      const next = queue.shift();
      if (next !== undefined) { yield next; continue; }
      if (failure) throw failure.error;
      if (finished) return;
      await new Promise<void>((resolve) => { wake = resolve; });
    }
  }
  return { result, [Symbol.asyncIterator]: pieces };
}
