// The engine's sampling, stop strings, chat API and info() on a real model (stories260K-f32, which has no chat
// template, so chat uses the documented fallback). Expected values come from llama.cpp's greedy reference and from
// quantities computed here independently (the fallback transcript, the KV cache size from the model's shape).
import type { DeviceContext } from '@qgpu/gpu';
import { loadReference, readSharedBytes, testGpu } from '@qgpu/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletionChunk } from './chat-api.ts';
import { createEngine, type LocalEngine } from './engine.ts';

const gpu = await testGpu();
const reference = loadReference('stories260K-f32').greedy;
// The chat tests decode ~100 tokens each: minutes on SwiftShader (measured 90-100 s each on a busy 2-core machine);
// the plans they run are the same ones the first tests check on SwiftShader, so they run on lavapipe only.
const heavy = gpu.adapter === 'swiftshader';
const heavyNote = heavy ? ' (skipped on SwiftShader: slow, same plans as above)' : '';

describe.skipIf(!gpu.ctx)(`engine chat and sampling on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = createEngine({ deviceContext: gpu.ctx as DeviceContext });
    await engine.load(readSharedBytes('models/stories260K/stories260K-f32.gguf'));
  });

  it('top-k 1 at temperature 1 (logits read back, CPU sampler) gives the GPU argmax path: llama.cpp\'s 16 greedy tokens', async () => {
    const r = await engine.generate(reference.prompt, { maxTokens: 16, temperature: 1, topK: 1, seed: 99 });
    expect(r.generatedIds).toEqual(reference.generated_ids.slice(0, 16));
  });

  it('a stop string ends generation before it; the text stops exactly there', async () => {
    const stop = reference.text.slice(20, 26);
    const cut = reference.text.indexOf(stop);
    const pieces: string[] = [];
    const r = await engine.generate(reference.prompt, { maxTokens: 64, stop: [stop] }, (piece) => { pieces.push(piece); });
    expect(r.stopReason).toBe('stop');
    expect(r.text).toBe(reference.text.slice(0, cut));
    expect(pieces.join('')).toBe(r.text);
  });

  it('generate() takes token ids as the prompt', async () => {
    const r = await engine.generate(reference.prompt_token_ids, { maxTokens: 8 });
    expect(r.generatedIds).toEqual(reference.generated_ids.slice(0, 8));
    expect(await engine.stats()).toEqual(r.stats);
    await expect(engine.generate([1, 10 ** 6])).rejects.toThrow(/not in the vocabulary/);
    // A failed call does not replace the last finished generation's stats.
    expect(await engine.stats()).toEqual(r.stats);
  });

  it.skipIf(heavy)(`chat without a model template: the fallback transcript is the prompt, greedy chat equals greedy generate on it${heavyNote}`, async () => {
    const messages = [{ role: 'user', content: 'Once upon a time' }];
    const completion = await engine.chat.completions.create({ messages, temperature: 0, max_tokens: 24 });
    const transcript = 'User: Once upon a time\nAssistant:';
    const direct = await engine.generate(transcript, { maxTokens: 24, stop: ['\nUser:'] });
    expect(completion.choices[0].message.content).toBe(direct.text);
    expect(completion.usage).toEqual({
      prompt_tokens: direct.promptIds.length, completion_tokens: direct.generatedIds.length, total_tokens: direct.promptIds.length + direct.generatedIds.length,
    });
    expect(completion.choices[0].finish_reason).toBe(direct.stopReason === 'max_tokens' ? 'length' : 'stop');

    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of await engine.chat.completions.create({ messages, temperature: 0, max_tokens: 24, stream: true })) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(direct.text);
    expect(chunks.at(-1)!.usage).toEqual(completion.usage);
  });

  it.skipIf(heavy)(`seeded chat sampling is reproducible${heavyNote}`, async () => {
    const request = { messages: [{ role: 'user', content: 'Tell me a story' }], temperature: 0.9, top_p: 0.95, min_p: 0.02, repetition_penalty: 1.1, max_tokens: 16, seed: 5 };
    const a = await engine.chat.completions.create(request);
    const b = await engine.chat.completions.create(request);
    expect(a.choices[0].message.content).toBe(b.choices[0].message.content);
    expect(a.usage.completion_tokens).toBeGreaterThan(0);
  });

  it('info() reports the adapter, limits, model metadata and memory (KV cache = 2 · layers · context · kv_dim · 4 bytes)', async () => {
    const info = await engine.info();
    const m = info.model!;
    expect(m.chatTemplate).toBeNull();
    expect(info.adapter!.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    const kvDim = (m.dim / m.nHeads) * m.nKvHeads;
    expect(info.memory).toMatchObject({ weightBytes: m.weightBytes, kvCacheBytes: 2 * m.nLayers * m.contextLength * kvDim * 4 });
    expect(info.memory!.workspaceBytes).toBeGreaterThan(0);
  });

  it('errors are typed: generate before load says so with code no_model', async () => {
    await expect(createEngine({ deviceContext: gpu.ctx as DeviceContext }).generate('x')).rejects.toMatchObject({ name: 'QgpuError', code: 'no_model' });
  });
});
