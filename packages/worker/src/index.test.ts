// The worker boundary over a MessageChannel in Node: plain callbacks cross (also nested in options), errors come
// back, termination rejects pending calls, and streamGenerate never loses text that the result overtook.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Engine, GenerateResult, LoadProgress, ModelInfo, TextCallback } from '@qgpu/runtime';
import { exposeEngine } from './host.ts';
import { connectEngine, createWorkerEngine, streamGenerate } from './index.ts';

const info: ModelInfo = {
  name: 'fake', architecture: 'llama', dim: 8, nLayers: 1, nHeads: 1, nKvHeads: 1, vocabSize: 4, contextLength: 16, weightBytes: 32,
};

function result(ids: number[], text: string): GenerateResult {
  return {
    promptIds: [1], generatedIds: ids, text, stopReason: 'max_tokens',
    stats: { promptTokens: 1, generatedTokens: ids.length, prefillMs: 1, decodeMs: 1, timeToFirstTokenMs: 1, prefillTokensPerSecond: 1, decodeTokensPerSecond: 1 },
  };
}

class FakeEngine implements Engine {
  hang = false;
  async load(source: unknown, options: { onProgress?: (p: LoadProgress) => void } = {}): Promise<ModelInfo> {
    if (source === 'bad') throw new Error('not a GGUF file (bad magic)');
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
  async info() { return { adapter: null, model: info }; }
  async abort(): Promise<void> {}
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
