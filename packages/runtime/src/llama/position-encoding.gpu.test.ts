// Whole-model position encodings on stories260K: the GPU forward with each encoding against the CPU reference model
// with the same encoding (computed from the formulas, llama.ts + rope.ts), and the property that 3D-RPE with one chunk
// covering the whole context reproduces RoPE's perplexity. The default encoding's references (llama.cpp ids and
// logits) are model.gpu.test.ts's.
import { bytesSource, readGguf } from '@qgpu/formats';
import type { DeviceContext } from '@qgpu/gpu';
import { interpolatedChunkSize, loadReferenceModel, ReferenceLlama, type ReferencePositionEncoding } from '@qgpu/reference';
import { expectClose, loadReference, readSharedBytes, testGpu, TOLERANCES } from '@qgpu/testing';
import { SpmTokenizer, spmVocabFromGguf } from '@qgpu/tokenizer';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../engine.ts';
import { LlamaModel } from './model.ts';
import type { PositionEncoding } from './rope.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const FILE = 'models/stories260K/stories260K-f32.gguf';
const openModel = () => readGguf(bytesSource(readSharedBytes(FILE), 'stories260K-f32.gguf'));
const story = `Once upon a time${loadReference('stories260K-f32').greedy.text}`;
// SwiftShader is ~10× slower; the 600-token and perplexity cases run on lavapipe only (the kernels are covered on both
// adapters by rope-ops.gpu.test.ts, and the 50-position logits cases run on both).
const lavapipeOnly = gpu.adapter === 'swiftshader';

async function tokensOf(count: number): Promise<number[]> {
  const tokenizer = new SpmTokenizer(spmVocabFromGguf((await openModel()).metadata));
  const ids = tokenizer.encode(Array(40).fill(story).join(' '), { addBos: true });
  expect(ids.length).toBeGreaterThanOrEqual(count);
  return ids.slice(0, count);
}

/** GPU logits of `tokens` with `encoding` vs the CPU reference with `reference`, over every position. */
async function compare(encoding: PositionEncoding, reference: ReferencePositionEncoding, count: number, context: number): Promise<void> {
  const file = await openModel();
  const { config, weights } = await loadReferenceModel(file);
  const tokens = await tokensOf(count);
  const cpu = new ReferenceLlama({ ...config, contextLength: context }, weights, undefined, reference);
  const expected = cpu.forward(tokens, 0);
  const model = await LlamaModel.load(ctx, file, { contextLength: context, positionEncoding: encoding, prefillChunk: 16 });
  const { logits } = await model.forward(tokens, 0, 'all');
  model.destroy();
  const flat = new Float32Array(logits.length * config.vocabSize);
  logits.forEach((row, i) => flat.set(row, i * config.vocabSize));
  const stats = expectClose(flat, expected, TOLERANCES.logitsGpuVsReference, JSON.stringify(encoding));
  console.info(`${gpu.adapter} ${JSON.stringify(encoding)}: max |Δlogit| ${stats.maxAbsError.toExponential(2)} over ${count} positions`);
}

describe.skipIf(!gpu.ctx)(`position encodings on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  it.each([
    [{ type: 'linear', factor: 2 }, { type: 'linear', factor: 2 }],
    [{ type: '3d-rpe', chunkSize: 16, mode: 'eq4' }, { type: '3d-rpe-eq4', chunkSize: 16, phaseBase: 10000 }],
    [{ type: '3d-rpe', chunkSize: 16, mode: 'chunked', localWindow: 4 }, { type: '3d-rpe-chunked', chunkSize: 16, localWindow: 4, phaseBase: 10000 }],
  ] as [PositionEncoding, ReferencePositionEncoding][])('%j: GPU logits equal the CPU reference over 50 positions (4 chunks)', async (encoding, reference) => {
    await compare(encoding, reference, 50, 64);
  });

  it('decode steps (one token per plan) with both 3D-RPE modes equal the reference, token by token', async () => {
    const file = await openModel();
    const { config, weights } = await loadReferenceModel(file);
    const tokens = await tokensOf(20);
    for (const [encoding, reference] of [
      [{ type: '3d-rpe', chunkSize: 8, mode: 'chunked', localWindow: 2 }, { type: '3d-rpe-chunked', chunkSize: 8, localWindow: 2, phaseBase: 10000 }],
      [{ type: '3d-rpe', chunkSize: 6, mode: 'eq4' }, { type: '3d-rpe-eq4', chunkSize: 6, phaseBase: 10000 }],
    ] as [PositionEncoding, ReferencePositionEncoding][]) {
      const expected = new ReferenceLlama({ ...config, contextLength: 32 }, weights, undefined, reference).forward(tokens, 0);
      const model = await LlamaModel.load(ctx, file, { contextLength: 32, positionEncoding: encoding });
      const got = new Float32Array(expected.length);
      for (let i = 0; i < tokens.length; i++) got.set((await model.forward([tokens[i]!], i, 'all')).logits[0]!, i * config.vocabSize);
      model.destroy();
      expectClose(got, expected, TOLERANCES.logitsGpuVsReference, `decode ${JSON.stringify(encoding)}`);
    }
  });

  it.skipIf(lavapipeOnly)(`past the trained context (600 of 512)${lavapipeOnly ? ' (skipped on SwiftShader: 600-token CPU reference, lavapipe covers it)' : ''}: 3D-RPE Eq. 4 with Theorem 1 interpolation and the chunked mode equal the reference`, async () => {
    // ⌈512/128⌉ = 4 chunks spread over 600 tokens: chunks of 150 (the reference computes c′ itself).
    await compare({ type: '3d-rpe', chunkSize: 128, mode: 'eq4', interpolate: true },
      { type: '3d-rpe-eq4', chunkSize: interpolatedChunkSize(128, 512, 600), phaseBase: 10000 }, 600, 600);
    await compare({ type: '3d-rpe', chunkSize: 256, mode: 'chunked' },
      { type: '3d-rpe-chunked', chunkSize: 256, localWindow: 32, phaseBase: 10000 }, 600, 600);
  });

  it.skipIf(lavapipeOnly)(`with one chunk covering the whole context, both 3D-RPE modes reproduce RoPE's perplexity${lavapipeOnly ? ' (skipped on SwiftShader: four model loads take ~220 s; the logits tests above cover both modes there)' : ''}`, async () => {
    const text = Array(3).fill(story).join(' ');
    const context = 64;
    const ppl = async (positionEncoding: PositionEncoding) => {
      const engine = createEngine({ deviceContext: ctx });
      await engine.load(readSharedBytes(FILE), { contextLength: context, positionEncoding });
      const r = await engine.perplexity(text, { context });
      await engine.unload();
      return r;
    };
    const rope = await ppl({ type: 'rope' });
    expect(rope.windows).toBeGreaterThanOrEqual(2);
    const { rtol } = TOLERANCES.perplexityEncodingVsRope;
    for (const encoding of [
      { type: '3d-rpe', chunkSize: context, mode: 'eq4' },
      { type: '3d-rpe', chunkSize: context + 8, mode: 'chunked', localWindow: 8 },
    ] as PositionEncoding[]) {
      const r = await ppl(encoding);
      console.info(`${gpu.adapter} ppl RoPE ${rope.ppl} vs ${JSON.stringify(encoding)} ${r.ppl}`);
      expect(Math.abs(r.ppl - rope.ppl)).toBeLessThanOrEqual(rtol * rope.ppl);
    }
    // And a chunk smaller than the context does change it (the comparison above can fail).
    const split = await ppl({ type: '3d-rpe', chunkSize: 16, mode: 'eq4' });
    expect(Math.abs(split.ppl - rope.ppl)).toBeGreaterThan(100 * rtol * rope.ppl);
  });

  it('bad encodings fail before any weight is read; the chunked mode refuses a non-f32 KV cache', async () => {
    const file = await openModel();
    await expect(LlamaModel.load(ctx, file, { positionEncoding: { type: 'linear', factor: -1 } })).rejects.toThrow(/factor must be > 0/);
    await expect(LlamaModel.load(ctx, file, { positionEncoding: { type: '3d-rpe', chunkSize: 512, mode: 'eq4', interpolate: true }, contextLength: 1024 }))
      .rejects.toThrow(/outside \[3, 512\]/);
    await expect(LlamaModel.load(ctx, file, { positionEncoding: { type: '3d-rpe', chunkSize: 64, mode: 'chunked' }, kvCache: 'f16' }))
      .rejects.toThrow(/needs kvCache 'f32'/);
  });
});
