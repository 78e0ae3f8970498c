// The worker boundary over a MessageChannel in Node: plain callbacks cross (also nested in options), errors come
// back typed, termination rejects pending calls, streamGenerate never loses text that the result overtook, and the
// OpenAI-shaped chat API (the runtime's real runChatCompletion over a fake generate) streams chunks across.
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  QgpuError, runChatCompletion, type ChatCompletionChunk, type ChatCompletionRequest, type ChatFormat, type Engine, type GenerateOptions,
  type GenerateResult, type LoadProgress, type ModelInfo, type PerplexityOptions, type PerplexityResult, type TextCallback,
} from '@qgpu/runtime';
import { exposeEngine } from './host.ts';
import { connectEngine, createWorkerEngine, streamGenerate } from './index.ts';

const info: ModelInfo = {
  name: 'fake', architecture: 'llama', dim: 8, nLayers: 1, nHeads: 1, nKvHeads: 1, vocabSize: 4, contextLength: 16, weightBytes: 32,
  chatTemplate: null,
};

function result(ids: number[], text: string): GenerateResult {
  return {
    promptIds: [1], generatedIds: ids, text, stopReason: 'max_tokens',
    stats: { promptTokens: 1, generatedTokens: ids.length, prefillMs: 1, decodeMs: 1, timeToFirstTokenMs: 1, prefillTokensPerSecond: 1, decodeTokensPerSecond: 1 },
  };
}

// Shaped like @qgpu/formats' FormatError (not a dependency of this package): a subclass with a name and a code.
class FormatError extends Error {
  override readonly name = 'FormatError';
  constructor(message: string, readonly code: string) { super(message); }
}

// A model without a chat template whose tokenizer maps each character to its code point.
const format: ChatFormat = { template: null, bosToken: '<s>', eosToken: '</s>', addBos: true, bosId: 1, specialTokens: new Map([['<s>', 1]]) };

class FakeEngine implements Engine {
  hang = false;
  aborted = 0;
  lastChatOptions: GenerateOptions | undefined;
  lastChatPrompt: readonly number[] = [];
  async load(source: unknown, options: { onProgress?: (p: LoadProgress) => void } = {}): Promise<ModelInfo> {
    if (source === 'bad') throw new Error('not a GGUF file (bad magic)');
    if (source === 'format') throw new FormatError("tensor 'x' is truncated", 'truncated');
    if (source === 'range') throw new RangeError('contextLength must be ≥ 1');
    options.onProgress?.({ phase: 'weights', loadedBytes: 16, totalBytes: 32 });
    options.onProgress?.({ phase: 'ready', loadedBytes: 32, totalBytes: 32 });
    return info;
  }
  async generate(prompt: string, _options?: unknown, onText?: TextCallback): Promise<GenerateResult> {
    if (this.hang) return new Promise(() => {});
    const pieces = prompt.split(' ');
    pieces.forEach((piece, i) => onText?.(piece, i));
    return result(pieces.map((_, i) => i), pieces.join(''));
  }
  async tokenize(): Promise<number[]> { return [1, 2]; }
  async perplexity(text: string, options: PerplexityOptions = {}): Promise<PerplexityResult> {
    options.onWindow?.(0, 2);
    return { ppl: 2, pplStdErr: 0, nll: Math.log(2), tokens: text.length, windows: 1, context: options.context ?? 16, scored: 7, windowPpl: [2] };
  }
  async chatCompletion(request: ChatCompletionRequest, onDelta?: TextCallback) {
    const generate = async (ids: readonly number[], options: GenerateOptions, onText?: TextCallback): Promise<GenerateResult> => {
      this.lastChatPrompt = ids;
      this.lastChatOptions = options;
      if (this.hang) return new Promise(() => {});
      const pieces = ['Hello', ' world', '!'];
      pieces.forEach((piece, i) => onText?.(piece, 10 + i));
      return { ...result([10, 11, 12], pieces.join('')), stopReason: 'eos' };
    };
    return runChatCompletion({ format, info, encode: (t) => [...t].map((c) => c.codePointAt(0)!), generate }, request, onDelta);
  }
  async info() { return { adapter: null, model: info, memory: null }; }
  async stats() { return result([0], 'x').stats; }
  async abort(): Promise<void> { this.aborted++; }
  async unload(): Promise<void> {}
}

const ports: MessagePort[] = [];
afterEach(() => { for (const p of ports.splice(0)) p.close(); });

/** A fake Worker: the main side of a channel whose other side exposes the engine. */
function fakeWorker(engine: Engine): Worker {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  exposeEngine(engine, port2);
  port1.start();
  return Object.assign(port1, { terminate: () => port1.close() }) as unknown as Worker;
}

describe('connectEngine', () => {
  it('passes a plain onProgress inside the options object, also a second time', async () => {
    const remote = connectEngine(fakeWorker(new FakeEngine()));
    const seen: string[] = [];
    const onProgress = (p: LoadProgress) => { seen.push(p.phase); };
    expect(await remote.load('ok', { onProgress, contextLength: 8 })).toEqual(info);
    await vi.waitFor(() => expect(seen).toEqual(['weights', 'ready']));
    // Regression: the first call must not change how the same function object crosses the next time.
    await remote.load('ok', { onProgress });
    await vi.waitFor(() => expect(seen).toHaveLength(4));
  });

  it('passes a plain onText and returns the result', async () => {
    const remote = connectEngine(fakeWorker(new FakeEngine()));
    const pieces: string[] = [];
    const r = await remote.generate('a b c', {}, (piece) => { pieces.push(piece); });
    expect(r.generatedIds).toEqual([0, 1, 2]);
    await vi.waitFor(() => expect(pieces.join('')).toBe('abc'));
  });

  it('perplexity crosses the boundary with its onWindow callback inside the options', async () => {
    const engine = createWorkerEngine(fakeWorker(new FakeEngine()));
    const seen: number[] = [];
    const r = await engine.perplexity('abcd', { context: 8, onWindow: (w, ppl) => { seen.push(w, ppl); } });
    expect(r).toMatchObject({ ppl: 2, tokens: 4, context: 8, windowPpl: [2] });
    await vi.waitFor(() => expect(seen).toEqual([0, 2]));
  });

  it('rejects with the engine error message', async () => {
    await expect(connectEngine(fakeWorker(new FakeEngine())).load('bad')).rejects.toThrow('not a GGUF file');
  });
});

describe('createWorkerEngine', () => {
  it('rejects pending and later calls once terminated', async () => {
    const fake = new FakeEngine();
    fake.hang = true;
    const engine = createWorkerEngine(fakeWorker(fake));
    await expect(engine.tokenize('x')).resolves.toEqual([1, 2]);
    const pending = engine.generate('never');
    engine.terminate();
    await expect(pending).rejects.toThrow('terminated');
    await expect(engine.info()).rejects.toThrow('terminated');
  });
});

describe('streamGenerate', () => {
  it('streams pieces across the worker boundary and ends with the full text', async () => {
    const stream = streamGenerate(createWorkerEngine(fakeWorker(new FakeEngine())), 'x y z');
    let text = '';
    for await (const piece of stream) text += piece;
    expect(text).toBe('xyz');
    expect((await stream.result).text).toBe('xyz');
  });

  it('yields the part of result.text that arrived before its pieces, and drops the late pieces', async () => {
    let late: (() => void) | undefined;
    const engine = {
      async generate(_prompt: string, _options?: unknown, onText?: TextCallback) {
        onText?.('he', 0);
        late = () => { onText?.('llo', 1); };
        return result([0, 1], 'hello');
      },
    };
    const pieces: string[] = [];
    for await (const piece of streamGenerate(engine, 'p')) pieces.push(piece);
    late?.();
    expect(pieces).toEqual(['he', 'llo']);
  });

  it('throws the generation error from the iterator', async () => {
    const engine = { generate: async () => { throw new Error('boom'); } };
    const stream = streamGenerate(engine, 'p');
    await expect((async () => { for await (const _ of stream) { /* drain */ } })()).rejects.toThrow('boom');
    await expect(stream.result).rejects.toThrow('boom');
  });
});

describe('errors cross the worker typed', () => {
  it('QgpuError keeps its class and code', async () => {
    const engine = createWorkerEngine(fakeWorker(new FakeEngine()));
    const error = await engine.chatCompletion({ messages: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QgpuError);
    expect(error).toMatchObject({ name: 'QgpuError', code: 'invalid_argument', message: 'messages must be a non-empty array' });
  });

  it("other classes keep name and code (FormatError) or their built-in class (RangeError), and the worker's stack", async () => {
    const engine = createWorkerEngine(fakeWorker(new FakeEngine()));
    const format = await engine.load('format').catch((e: unknown) => e);
    expect(format).toMatchObject({ name: 'FormatError', code: 'truncated', message: "tensor 'x' is truncated" });
    expect((format as Error).stack).toContain('in the engine worker');
    const range = await engine.load('range').catch((e: unknown) => e);
    expect(range).toBeInstanceOf(RangeError);
    expect((range as Error).message).toBe('contextLength must be ≥ 1');
  });
});

describe('chat.completions.create across the worker', () => {
  const messages = [{ role: 'user', content: 'Hi' }];

  it('returns a ChatCompletion in the OpenAI shape; the fallback template, BOS and defaults reach generate', async () => {
    const fake = new FakeEngine();
    const engine = createWorkerEngine(fakeWorker(fake));
    const completion = await engine.chat.completions.create({ messages, max_tokens: 5, stop: 'END', top_k: 3 });
    expect(completion).toMatchObject({
      object: 'chat.completion', model: 'fake',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello world!' }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 },
    });
    expect(completion.id).toMatch(/^chatcmpl-[0-9a-f]{24}$/);
    expect(fake.lastChatPrompt).toEqual([1, ...[...'User: Hi\nAssistant:'].map((c) => c.codePointAt(0))]);
    expect(fake.lastChatOptions).toMatchObject({ maxTokens: 5, temperature: 1, topK: 3, addBos: false, stop: ['END', '\nUser:'] });
  });

  it('streams chunks: the role first, then the content pieces, the finish reason, and a final usage chunk', async () => {
    const engine = createWorkerEngine(fakeWorker(new FakeEngine()));
    const stream = await engine.chat.completions.create({ messages, stream: true, seed: 3 });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello world!');
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'fake')).toBe(true);
    expect(chunks.at(-2)!.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 } });
    expect((await stream.completion).choices[0].message.content).toBe('Hello world!');
  });

  it('leaving the stream early aborts the generation', async () => {
    const fake = new FakeEngine();
    fake.hang = true;
    const engine = createWorkerEngine(fakeWorker(fake));
    const stream = await engine.chat.completions.create({ messages, stream: true });
    for await (const chunk of stream) { expect(chunk.choices[0]!.delta.role).toBe('assistant'); break; }
    expect(fake.aborted).toBe(1);
  });

  it('stats() crosses the worker', async () => {
    const engine = createWorkerEngine(fakeWorker(new FakeEngine()));
    expect(await engine.stats()).toMatchObject({ promptTokens: 1, generatedTokens: 1, decodeTokensPerSecond: 1, timeToFirstTokenMs: 1 });
  });

  it('rejects what it does not support with a typed error', async () => {
    const engine = createWorkerEngine(fakeWorker(new FakeEngine()));
    await expect(engine.chat.completions.create({ messages, n: 2 })).rejects.toMatchObject({ code: 'unsupported', message: expect.stringMatching(/n = 2/) });
  });
});
