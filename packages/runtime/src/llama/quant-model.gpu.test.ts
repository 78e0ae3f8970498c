// Whole models with quantized weights: llama.cpp agreement by teacher forcing on its own greedy sequence, and exact
// agreement (within summation-order error) with the CPU reference forward on the dequantized weights.
import { bytesSource, readGguf } from '@qgpu/formats';
import type { DeviceContext } from '@qgpu/gpu';
import { loadReferenceModel, ReferenceLlama } from '@qgpu/reference';
import { expectClose, loadReference, readSharedBytes, testGpu, TOLERANCES, type ReferenceName } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { LlamaModel } from './model.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const openModel = (name: string) => readGguf(bytesSource(readSharedBytes(`models/stories260K/${name}`), name));

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

describe.skipIf(!gpu.ctx)(`quantized models on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  it.each([['stories260K-q8_0.gguf', 'stories260K-q8_0'], ['stories260K-q4_0.gguf', 'stories260K-q4_0']] as const)(
    '%s: teacher-forced top-1 agreement with llama.cpp ≥ 95%% and step-0 logits close', async (file, referenceName: ReferenceName) => {
      const reference = loadReference(referenceName).greedy;
      const model = await LlamaModel.load(ctx, await openModel(file));
      const sequence = [...reference.prompt_token_ids, ...reference.generated_ids];
      const { logits } = await model.forward(sequence.slice(0, -1), 0, 'all');
      const first = reference.prompt_token_ids.length - 1;
      let agree = 0;
      for (let step = 0; step < reference.generated_ids.length; step++) {
        if (argmax(logits[first + step]!) === reference.generated_ids[step]) agree++;
      }
      const agreement = agree / reference.generated_ids.length;
      const stats = expectClose(logits[first]!, reference.full_logits_first_steps['0']!, TOLERANCES.logitsVsLlamaCppQuant, `${file} step 0`);
      console.info(`${gpu.adapter} ${file}: top-1 agreement ${(agreement * 100).toFixed(1)}%, step-0 max |Δlogit| ${stats.maxAbsError.toExponential(2)}`);
      expect(agreement).toBeGreaterThanOrEqual(0.95);
      model.destroy();
    });

  it.each(['stories260K-q8_0.gguf', 'stories260K-q4_0.gguf', 'stories260K-q4_k_m.gguf', 'stories260K-pad256-q8_0.gguf',
    'stories260K-pad256-q4_0.gguf', 'stories260K-pad256-q4_0-pure.gguf', 'stories260K-pad256-q4_k_m.gguf'])(
    '%s: GPU logits equal the CPU reference forward on the dequantized weights', async (file) => {
      const gguf = await openModel(file);
      const { config, weights } = await loadReferenceModel(gguf);
      const tokens = [...loadReference('stories260K-f32').greedy.prompt_token_ids, 432, 383, 286, 261, 376, 298];
      const expected = new ReferenceLlama(config, weights).forward(tokens, 0);
      const model = await LlamaModel.load(ctx, gguf, { prefillChunk: 4 });
      const { logits } = await model.forward(tokens, 0, 'all');
      const flat = new Float32Array(logits.length * config.vocabSize);
      logits.forEach((row, i) => flat.set(row, i * config.vocabSize));
      const stats = expectClose(flat, expected, TOLERANCES.logitsGpuVsReference, file);
      console.info(`${gpu.adapter} ${file}: GPU vs reference max |Δlogit| ${stats.maxAbsError.toExponential(2)}`);
      model.destroy();
    });
});
