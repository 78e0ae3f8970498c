// stories260K converted to a Hugging Face checkpoint (GGUF → safetensors with q/k rows back in rotate_half order)
// and loaded through the safetensors path must generate exactly llama.cpp's greedy ids: this proves the name
// mapping and the RoPE permutation end to end. Quantized on load with RTN at 8 bits it is byte-identical to
// llama.cpp's stories260K-q8_0.gguf, so it must reproduce that file's reference ids too.
import { bytesSource, readGguf } from '@qgpu/formats';
import type { DeviceContext } from '@qgpu/gpu';
import { loadReference, readSharedBytes, testGpu, type ReferenceFile } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { openHfLlama, type HfQuantizeOptions } from './hf.ts';
import { hfCheckpointFromGguf } from './hf-convert.ts';
import { LlamaModel } from './model.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;

async function greedyIds(model: LlamaModel, prompt: readonly number[], n: number): Promise<number[]> {
  const ids: number[] = [];
  let next = (await model.forward(prompt, 0)).next;
  for (let pos = prompt.length; ids.length < n; pos++) {
    ids.push(next);
    if (ids.length < n) next = await model.decodeGreedy(pos);
  }
  return ids;
}

describe.skipIf(!gpu.ctx)(`safetensors Llama on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  const cases: [string, 'F32' | 'BF16', HfQuantizeOptions | undefined, ReferenceFile][] = [
    ['F32 safetensors', 'F32', undefined, loadReference('stories260K-f32')],
    ['F32 safetensors quantized on load (RTN 8-bit = llama.cpp Q8_0)', 'F32', { method: 'rtn', bits: 8 }, loadReference('stories260K-q8_0')],
  ];
  it.each(cases)('%s: 64 greedy ids equal llama.cpp', async (_, dtype, quantize, reference) => {
    const gguf = await readGguf(bytesSource(readSharedBytes('models/stories260K/stories260K-f32.gguf'), 'stories260K-f32.gguf'));
    const { config, safetensors } = await hfCheckpointFromGguf(gguf, dtype);
    const file = await openHfLlama({ config, safetensors: bytesSource(safetensors, 'model.safetensors'), name: 'stories260K-hf' }, quantize ? { quantize } : {});
    const model = await LlamaModel.load(ctx, file);
    const ids = await greedyIds(model, reference.greedy.prompt_token_ids, reference.greedy.generated_ids.length);
    expect(ids).toEqual(reference.greedy.generated_ids);
    model.destroy();
  });
});
