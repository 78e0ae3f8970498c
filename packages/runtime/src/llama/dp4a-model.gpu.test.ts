// Whole models on the int8 ("dp4a") kernel path: llama.cpp agreement by teacher forcing on its own greedy sequence
// (llama.cpp's CPU matmuls quantize activations to 8 bits per block of 32 too), and the Q4_K model against the CPU
// reference forward on the dequantized weights with f32 activations, which differs by the activation rounding alone.
import { bytesSource, readGguf } from '@qgpu/formats';
import type { DeviceContext } from '@qgpu/gpu';
import { loadReferenceModel, ReferenceLlama } from '@qgpu/reference';
import { compareArrays, expectClose, loadReference, readSharedBytes, testGpu, TOLERANCES, type ReferenceName } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../engine.ts';
import { LlamaModel } from './model.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const openModel = (name: string) => readGguf(bytesSource(readSharedBytes(`models/stories260K/${name}`), name));

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** Teacher-forced logits of `model` over llama.cpp's greedy sequence, with the top-1 agreement and step-0 error. */
async function teacherForced(model: LlamaModel, referenceName: ReferenceName) {
  const reference = loadReference(referenceName).greedy;
  const sequence = [...reference.prompt_token_ids, ...reference.generated_ids];
  const { logits } = await model.forward(sequence.slice(0, -1), 0, 'all');
  const first = reference.prompt_token_ids.length - 1;
  const agree = reference.generated_ids.filter((id, step) => argmax(logits[first + step]!) === id).length;
  return {
    agreement: agree / reference.generated_ids.length,
    step0: logits[first]!,
    expected: reference.full_logits_first_steps['0']!,
  };
}

describe.skipIf(!gpu.ctx)(`dp4a kernel path on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  it.each([['stories260K-q8_0.gguf', 'stories260K-q8_0'], ['stories260K-q4_0.gguf', 'stories260K-q4_0']] as const)(
    '%s: teacher-forced top-1 agreement with llama.cpp ≥ 95%% and step-0 logits close', async (file, referenceName: ReferenceName) => {
      const gguf = await openModel(file);
      const results = [];
      for (const kernelPath of ['dp4a', 'dequant'] as const) {
        const model = await LlamaModel.load(ctx, gguf, { kernelPath });
        results.push({ kernelPath, ...(await teacherForced(model, referenceName)) });
        model.destroy();
      }
      const [dp4a, dequant] = results as [typeof results[0], typeof results[0]];
      const stats = expectClose(dp4a.step0, dp4a.expected, TOLERANCES.logitsVsLlamaCppQuant, `${file} dp4a step 0`);
      const dequantStats = compareArrays(dequant.step0, dequant.expected);
      console.info(`${gpu.adapter} ${file} dp4a: top-1 agreement ${(dp4a.agreement * 100).toFixed(1)}%, step-0 max |Δlogit| `
        + `${stats.maxAbsError.toExponential(2)} (dequant path: ${(dequant.agreement * 100).toFixed(1)}%, ${dequantStats.maxAbsError.toExponential(2)})`);
      expect(dp4a.agreement).toBeGreaterThanOrEqual(0.95);
      // The int8 path must really have run: identical logits would mean every linear fell back to dequant.
      expect(stats.maxAbsError).not.toBe(dequantStats.maxAbsError);
    }, 600_000); // two model loads and 70 positions each: minutes on SwiftShader when the machine is busy

  it('stories260K-pad256-q4_k_m.gguf (Q4_K): logits close to the CPU reference on the dequantized weights', async () => {
    const file = 'stories260K-pad256-q4_k_m.gguf';
    const gguf = await openModel(file);
    const { config, weights } = await loadReferenceModel(gguf);
    const tokens = [...loadReference('stories260K-f32').greedy.prompt_token_ids, 432, 383, 286, 261, 376, 298];
    const expected = new ReferenceLlama(config, weights).forward(tokens, 0);
    const model = await LlamaModel.load(ctx, gguf, { prefillChunk: 4, kernelPath: 'dp4a' });
    const { logits } = await model.forward(tokens, 0, 'all');
    model.destroy();
    const flat = new Float32Array(logits.length * config.vocabSize);
    logits.forEach((row, i) => flat.set(row, i * config.vocabSize));
    const stats = expectClose(flat, expected, TOLERANCES.logitsDp4aVsReference, file);
    const agree = logits.filter((row, i) => argmax(row) === argmax(expected.subarray(i * config.vocabSize, (i + 1) * config.vocabSize))).length;
    console.info(`${gpu.adapter} ${file} dp4a vs reference: max |Δlogit| ${stats.maxAbsError.toExponential(2)}, NMSE `
      + `${stats.nmse.toExponential(2)}, top-1 equal at ${agree}/${logits.length} positions`);
    expect(agree).toBe(logits.length);
  }, 600_000);

  it('rejects unknown kernel paths with a clear error', async () => {
    const engine = createEngine({ deviceContext: ctx });
    const bytes = readSharedBytes('models/stories260K/stories260K-q4_0.gguf');
    await expect(engine.load(bytes, { kernelPath: 'int4' as never })).rejects.toThrow(/unknown kernel path 'int4'/);
  });
});
