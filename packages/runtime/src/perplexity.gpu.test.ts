// engine.perplexity on the GPU against the same protocol computed independently here on the CPU reference model.
import { bytesSource, readGguf } from '@qgpu/formats';
import type { DeviceContext } from '@qgpu/gpu';
import { loadReferenceModel, ReferenceLlama } from '@qgpu/reference';
import { loadReference, readSharedBytes, testGpu, TOLERANCES } from '@qgpu/testing';
import { SpmTokenizer, spmVocabFromGguf } from '@qgpu/tokenizer';
import { describe, expect, it } from 'vitest';
import { createEngine } from './engine.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const MODEL = 'models/stories260K/stories260K-f32.gguf';

/** llama-perplexity written out directly: windows of nCtx with BOS first, score positions nCtx/2 … nCtx−2. */
async function referencePerplexity(text: string, nCtx: number): Promise<{ ppl: number; windows: number }> {
  const file = await readGguf(bytesSource(readSharedBytes(MODEL), 'stories260K-f32.gguf'));
  const { config, weights } = await loadReferenceModel(file);
  const tokenizer = new SpmTokenizer(spmVocabFromGguf(file.metadata));
  const ids = tokenizer.encode(text, { addBos: true });
  const cpu = new ReferenceLlama({ ...config, contextLength: nCtx }, weights);
  let sum = 0;
  let count = 0;
  const windows = Math.floor(ids.length / nCtx);
  for (let w = 0; w < windows; w++) {
    const window = [tokenizer.bosId, ...ids.slice(w * nCtx + 1, (w + 1) * nCtx)];
    cpu.reset();
    const logits = cpu.forward(window, 0);
    for (let j = nCtx / 2; j <= nCtx - 2; j++) {
      const row = logits.subarray(j * config.vocabSize, (j + 1) * config.vocabSize);
      const max = Math.max(...row);
      const logSumExp = Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) + max;
      sum += logSumExp - row[window[j + 1]!]!;
      count++;
    }
  }
  return { ppl: Math.exp(sum / count), windows };
}

describe.skipIf(!gpu.ctx)(`perplexity on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  it('engine.perplexity equals the protocol computed on the CPU reference model (3 windows of 32 tokens)', async () => {
    const story = `Once upon a time${loadReference('stories260K-f32').greedy.text}`;
    const text = `${story} ${story}`;
    const nCtx = 32;
    const expected = await referencePerplexity(text, nCtx);
    const engine = createEngine({ deviceContext: ctx });
    await engine.load(readSharedBytes(MODEL), { contextLength: nCtx });
    const result = await engine.perplexity(text, { context: nCtx });
    await engine.unload();
    console.info(`${gpu.adapter} perplexity ${result.ppl} vs CPU reference ${expected.ppl} over ${result.windows} windows`);
    expect(result.windows).toBe(expected.windows);
    expect(result.windows).toBeGreaterThanOrEqual(3);
    expect(result.scored).toBe(result.windows * (nCtx - 1 - nCtx / 2));
    const { rtol } = TOLERANCES.perplexityGpuVsReference;
    expect(Math.abs(result.ppl - expected.ppl)).toBeLessThanOrEqual(rtol * expected.ppl);
  });
});
