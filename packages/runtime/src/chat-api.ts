// The OpenAI-shaped chat API, caller side: `engine.chat.completions.create({ messages, stream, … })` and its types.
// Built on the engine's callback form `chatCompletion(request, onDelta)` (chat.ts, which runs where the model is),
// so the same code serves an in-process engine and a worker: a stream becomes an async iterable of chunks in
// OpenAI's chunk shape, ending with a usage chunk. Imports no runtime code, so a page bundle stays free of the engine.
import type { ChatMessage } from './chat-template.ts';
import type { GenerateStats, TextCallback } from './engine-api.ts';
import { pieceStream } from './stream.ts';

/** OpenAI's request fields that qgpu implements (snake_case, as in the OpenAI API), plus llama.cpp's top_k/min_p. */
export interface ChatCompletionRequest {
  messages: ChatMessage[];
  /** true: `create` resolves to an async iterable of chunks. */
  stream?: boolean;
  /** Default 1, as OpenAI; 0 is greedy (argmax on the GPU when no repetition penalty is set). */
  temperature?: number;
  /** Default 1 (off). */
  top_p?: number;
  /** Default 0 (off). */
  top_k?: number;
  /** Default 0 (off). */
  min_p?: number;
  /** llama.cpp's repeat penalty; default 1 (off). */
  repetition_penalty?: number;
  /** Window of the repetition penalty in tokens (default 64). */
  repetition_last_n?: number;
  /** Default: what is left of the context after the prompt. */
  max_tokens?: number;
  /** OpenAI's newer name for max_tokens. */
  max_completion_tokens?: number;
  /** Up to any number of stop strings; the match is not part of the reply. */
  stop?: string | string[];
  /** Default: a random seed per request, as OpenAI; give one for reproducible replies. */
  seed?: number;
  /** Accepted and ignored: the engine serves the model it loaded. */
  model?: string;
  /** Only 1 is supported. */
  n?: number;
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface ChatCompletionUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

export interface ChatCompletion {
  readonly id: string;
  readonly object: 'chat.completion';
  readonly created: number;
  readonly model: string;
  readonly choices: readonly [{
    readonly index: 0;
    readonly message: { readonly role: 'assistant'; readonly content: string };
    readonly finish_reason: FinishReason;
    readonly logprobs: null;
  }];
  readonly usage: ChatCompletionUsage;
  /** qgpu extension: timings of this request (prompt and decode tok/s, time to first token). */
  readonly stats: GenerateStats;
}

export interface ChatCompletionChunk {
  readonly id: string;
  readonly object: 'chat.completion.chunk';
  readonly created: number;
  readonly model: string;
  /** One choice per chunk, except the last chunk, which has none and carries `usage` (OpenAI's include_usage). */
  readonly choices: readonly {
    readonly index: 0;
    readonly delta: { readonly role?: 'assistant'; readonly content?: string };
    readonly finish_reason: FinishReason | null;
    readonly logprobs: null;
  }[];
  readonly usage?: ChatCompletionUsage;
  /** qgpu extension, on the usage chunk. */
  readonly stats?: GenerateStats;
}

/** An id in OpenAI's form, `chatcmpl-` and 24 hex digits. */
export function completionId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return `chatcmpl-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The callback form every engine has (it crosses the worker boundary); `chat` is built on it. */
export interface ChatCapable {
  chatCompletion(request: ChatCompletionRequest, onDelta?: TextCallback): Promise<ChatCompletion>;
  abort(): Promise<void>;
}

export interface ChatCompletionStream extends AsyncIterable<ChatCompletionChunk> {
  /** The whole completion, once the stream has ended. */
  readonly completion: Promise<ChatCompletion>;
}

export interface ChatApi {
  readonly completions: {
    create(request: ChatCompletionRequest & { stream: true }): Promise<ChatCompletionStream>;
    create(request: ChatCompletionRequest & { stream?: false }): Promise<ChatCompletion>;
    create(request: ChatCompletionRequest): Promise<ChatCompletion | ChatCompletionStream>;
  };
}

/**
 * Caller side: `chat.completions.create` over any engine's `chatCompletion` (in-process or through the worker).
 * Leaving a streamed `for await` early (break, return, throw) aborts the generation.
 */
export function chatApi(engine: ChatCapable, modelName: () => Promise<string>): ChatApi {
  function stream(request: ChatCompletionRequest): ChatCompletionStream {
    const id = completionId();
    const created = Math.floor(Date.now() / 1000);
    const name = modelName().catch(() => '');
    const text = pieceStream((onPiece) => engine.chatCompletion(request, (piece) => onPiece(piece)), (c) => c.choices[0].message.content);
    text.result.catch(() => {});
    async function* chunks(): AsyncGenerator<ChatCompletionChunk> {
      const model = await name;
      const chunk = (delta: ChatCompletionChunk['choices'][number]['delta'], finish: FinishReason | null): ChatCompletionChunk =>
        ({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] });
      let done = false;
      try {
        yield chunk({ role: 'assistant', content: '' }, null);
        for await (const piece of text) yield chunk({ content: piece }, null);
        const completion = await text.result;
        done = true;
        yield chunk({}, completion.choices[0].finish_reason);
        yield { id, object: 'chat.completion.chunk', created, model, choices: [], usage: completion.usage, stats: completion.stats };
      } finally {
        if (!done) await engine.abort().catch(() => {});
      }
    }
    return { completion: text.result, [Symbol.asyncIterator]: chunks };
  }
  async function create(request: ChatCompletionRequest): Promise<ChatCompletion | ChatCompletionStream> {
    if (request?.stream) return stream(request);
    return engine.chatCompletion(request);
  }
  return { completions: { create } as ChatApi['completions'] };
}
