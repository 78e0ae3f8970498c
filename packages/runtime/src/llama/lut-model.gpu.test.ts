// The T-MAC LUT kernel path on a whole model: stories260K-pad256-q4_0 (the trained function padded so every linear
// width is a multiple of 32; shared/README.md) converted at load to 4-bit bit-planes in groups of 32, which maps its
// Q4_0 linears exactly; its Q6_K output matrix is re-quantized by rounding. Teacher-forced on llama.cpp's greedy
// sequence for the unpadded Q4_0 file (same function).
import { bytesSource, readGguf } from '@qgpu/formats';
import type { DeviceContext } from '@qgpu/gpu';
import { loadReference, readSharedBytes, testGpu } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { LlamaModel } from './model.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

describe.skipIf(!gpu.ctx)(`LUT kernel path on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  it('stories260K-pad256-q4_0 with kernelPath lut: teacher-forced top-1 agreement with llama.cpp ≥ 95%', async () => {
    const name = 'stories260K-pad256-q4_0.gguf';
    const file = await readGguf(bytesSource(readSharedBytes(`models/stories260K/${name}`), name));
    const model = await LlamaModel.load(ctx, file, { kernelPath: 'lut' });
    expect(model.weights.layers[0]!.wq.format).toBe('lut');
    const reference = loadReference('stories260K-q4_0').greedy;
    const sequence = [...reference.prompt_token_ids, ...reference.generated_ids];
    const { logits } = await model.forward(sequence.slice(0, -1), 0, 'all');
    const first = reference.prompt_token_ids.length - 1;
    const agree = reference.generated_ids.filter((id, step) => argmax(logits[first + step]!) === id).length;
    console.info(`${gpu.adapter} ${name} lut: teacher-forced top-1 agreement ${agree}/${reference.generated_ids.length}`);
    expect(agree / reference.generated_ids.length).toBeGreaterThanOrEqual(0.95);
    model.destroy();
  });
});
