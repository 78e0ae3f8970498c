// The whole forward pass on WebGPU against llama.cpp's recorded outputs (shared/reference) and the CPU reference.
import { bytesSource, readGguf } from '@qgpu/formats';
import { Plan, type DeviceContext } from '@qgpu/gpu';
import { loadReferenceModel, ReferenceLlama } from '@qgpu/reference';
import { expectClose, loadReference, readSharedBytes, testGpu, TOLERANCES } from '@qgpu/testing';
import { describe, expect, it, vi } from 'vitest';
import { createEngine } from '../engine.ts';
import { LlamaModel, prefillSizes } from './model.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const openModel = (name: string) => readGguf(bytesSource(readSharedBytes(`models/stories260K/${name}`), name));

describe.skipIf(!gpu.ctx)(`Llama forward on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  const f32 = loadReference('stories260K-f32');
  const f16 = loadReference('stories260K-f16');

  it.each([
    ['stories260K-f32.gguf', f32],
    ['stories260K-f16.gguf', f16],
    // Same trained function zero-padded to dim 256 / 32 heads (shared/README.md): greedy ids identical.
    ['stories260K-pad256-f32.gguf', f32],
    ['stories260K-pad256-f16.gguf', f16],
  ])('%s: 64 greedy ids equal llama.cpp', async (file, reference) => {
    const engine = createEngine({ deviceContext: ctx });
    await engine.load(readSharedBytes(`models/stories260K/${file}`));
    const result = await engine.generate(reference.greedy.prompt, { maxTokens: 64, temperature: 0 });
    expect(result.promptIds).toEqual(reference.greedy.prompt_token_ids);
    expect(result.generatedIds).toEqual(reference.greedy.generated_ids);
    expect(result.text).toBe(reference.greedy.text);
    await engine.unload();
  });

  it.each([['stories260K-f32.gguf', f32, TOLERANCES.logitsVsLlamaCppF32], ['stories260K-f16.gguf', f16, TOLERANCES.logitsVsLlamaCppF16]] as const)(
    '%s: first-step logits match llama.cpp full_logits_first_steps', async (file, reference, tolerance) => {
      const model = await LlamaModel.load(ctx, await openModel(file), { prefillChunk: 8 });
      const { prompt_token_ids: prompt, generated_ids: generated, full_logits_first_steps: steps } = reference.greedy;
      // Teacher forcing through llama.cpp's own sequence: logits after prompt + generated[0..s) are step s.
      const sequence = [...prompt, ...generated.slice(0, Object.keys(steps).length - 1)];
      const { logits } = await model.forward(sequence, 0, 'all');
      for (const [step, expected] of Object.entries(steps)) {
        const stats = expectClose(logits[prompt.length - 1 + Number(step)]!, expected, tolerance, `${file} step ${step}`);
        console.info(`${gpu.adapter} ${file} step ${step}: max |Δlogit| ${stats.maxAbsError.toExponential(2)}`);
      }
      model.destroy();
    });

  it('GPU logits equal the CPU reference forward on every prompt position, in prefill chunks and token by token', async () => {
    const file = await openModel('stories260K-f32.gguf');
    const { config, weights } = await loadReferenceModel(file);
    const cpu = new ReferenceLlama(config, weights);
    const tokens = [...f32.greedy.prompt_token_ids, ...f32.greedy.generated_ids.slice(0, 20)];
    const expected = cpu.forward(tokens, 0);
    const model = await LlamaModel.load(ctx, file, { prefillChunk: 7 });
    const chunked = await model.forward(tokens, 0, 'all');
    const stepwise: Float32Array[] = [];
    for (let i = 0; i < tokens.length; i++) stepwise.push(...(await model.forward([tokens[i]!], i, 'all')).logits);
    for (const rows of [chunked.logits, stepwise]) {
      const flat = new Float32Array(rows.length * config.vocabSize);
      rows.forEach((row, i) => flat.set(row, i * config.vocabSize));
      const stats = expectClose(flat, expected, TOLERANCES.logitsGpuVsReference, 'logits');
      console.info(`${gpu.adapter} GPU vs CPU reference: max |Δlogit| ${stats.maxAbsError.toExponential(2)} over ${rows.length} positions`);
    }
    model.destroy();
  });

  it('prompts shorter than the chunk run the smallest prefill plan that holds them, and match the CPU reference', async () => {
    const file = await openModel('stories260K-f32.gguf');
    const { config, weights } = await loadReferenceModel(file);
    const tokens = [...f32.greedy.prompt_token_ids, ...f32.greedy.generated_ids].slice(0, 52); // 5 + 64 ids on file
    const expected = new ReferenceLlama(config, weights).forward(tokens, 0);
    const model = await LlamaModel.load(ctx, file, { prefillChunk: 32 });
    expect([prefillSizes(32), prefillSizes(40), prefillSizes(2), prefillSizes(1)]).toEqual([[2, 4, 8, 16, 32], [2, 4, 8, 16, 32, 40], [2], []]);
    // Pieces of 2, 3, 5, 9, 16 and 17 tokens run the 2-, 4-, 8-, 16-, 16- and 32-token plans, each continuing the KV
    // cache the previous one filled; the last row's logits of each piece are compared.
    const encoded: string[] = [];
    const encode = Plan.prototype.encode;
    const spy = vi.spyOn(Plan.prototype, 'encode').mockImplementation(function (this: Plan, pass: GPUComputePassEncoder) {
      encoded.push(this.label);
      encode.call(this, pass);
    });
    let at = 0;
    for (const length of [2, 3, 5, 9, 16, 17]) {
      const piece = tokens.slice(at, at + length);
      const { logits } = await model.forward(piece, at, 'last');
      at += piece.length;
      expectClose(logits[0]!, expected.subarray((at - 1) * config.vocabSize, at * config.vocabSize), TOLERANCES.logitsGpuVsReference, `piece of ${length} ending at ${at}`);
    }
    spy.mockRestore();
    expect(encoded).toEqual(['prefill.2', 'prefill.4', 'prefill.8', 'prefill.16', 'prefill.16', 'prefill.32']);
    model.destroy();
  });

  it('abort() stops a running generation after the current token and leaves the engine usable', async () => {
    const engine = createEngine({ deviceContext: ctx });
    await engine.load(readSharedBytes('models/stories260K/stories260K-f32.gguf'));
    let pieces = 0;
    const aborted = await engine.generate(f32.greedy.prompt, { maxTokens: 200, temperature: 0 }, () => {
      if (++pieces === 3) void engine.abort();
    });
    expect(aborted.stopReason).toBe('aborted');
    expect(aborted.generatedIds.length).toBeLessThan(10);
    expect(aborted.generatedIds).toEqual(f32.greedy.generated_ids.slice(0, aborted.generatedIds.length));
    const again = await engine.generate(f32.greedy.prompt, { maxTokens: 64, temperature: 0 });
    expect(again.generatedIds).toEqual(f32.greedy.generated_ids);
    await engine.unload();
  });

  it("kernel path 'dp4a' on an implementation without packed_4x8_integer_dot_product fails with a clear error", async () => {
    const withoutDot4 = { ...ctx, wgslFeatures: new Set<string>() };
    await expect(LlamaModel.load(withoutDot4, await openModel('stories260K-q8_0.gguf'), { kernelPath: 'dp4a' }))
      .rejects.toThrow(/needs the WGSL feature packed_4x8_integer_dot_product/);
  });
});
