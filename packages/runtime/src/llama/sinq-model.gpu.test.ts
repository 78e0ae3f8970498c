// SINQ / RTN group-quantized models (qgpu.quant GGUF, @qgpu/quant) on the GPU: the scale_columns kernel against its
// CPU twin, then whole stories260K models quantized in memory, loaded (always on the LUT kernels, each SINQ linear
// reading its own copy x ⊙ t of its input), compared with the CPU reference running the dequantized weights
// s·(q − z)·t (one t per linear, or shared per input), and generating.
import { bytesSource, f16ArrayToF32, f32ToF16, readGguf } from '@qgpu/formats';
import type { DeviceContext, GpuTensor } from '@qgpu/gpu';
import { dequantizedGguf, quantizeGgufModel, readTypedMetadata, type QuantizeModelOptions } from '@qgpu/quant';
import { loadReferenceModel, ReferenceLlama, scaleColumns } from '@qgpu/reference';
import * as kernels from '@qgpu/shaders';
import { expectClose, randomFloats, readSharedBytes, readTensor, runKernel, testGpu, TOLERANCES, upload } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { layerLinears } from './load.ts';
import { LlamaModel } from './model.ts';
import type { Weight } from './weight.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;

describe.skipIf(!gpu.ctx)(`SINQ / RTN group-quantized models on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  it.each([[1, 64], [3, 172], [5, 33]])('scale_columns tokens=%i cols=%i vs the twin (f32, and f16 where supported)', async (n, cols) => {
    const x = randomFloats(n + cols, n * cols, 3);
    const t = randomFloats(cols, cols, 1).map((v) => 0.5 + Math.abs(v) * 2);
    const [xIn, xt] = [upload(ctx, 'x', [n, cols], 'f32', x), upload(ctx, 'xt', [n, cols], 'f32', new Float32Array(n * cols))];
    await runKernel(ctx, 'f32', kernels.scale_columns, {
      params: { cols, n: n * cols }, bindings: { scale: upload(ctx, 't', [cols], 'f32', t), x: xIn, out: xt }, workgroups: [Math.ceil((n * cols) / 64)],
    });
    expectClose(new Float32Array(await readTensor(ctx.device, xt), 0, n * cols), scaleColumns(x, t, n, cols), TOLERANCES.f32Elementwise);
    expect(Array.from(new Float32Array(await readTensor(ctx.device, xIn), 0, n * cols))).toEqual(Array.from(x)); // x is left as it was
    if (!ctx.hasF16) return;
    const x16 = f16ArrayToF32(Uint16Array.from(x, f32ToF16));
    const xt16 = upload(ctx, 'xt16', [n, cols], 'f16', new Uint16Array(n * cols));
    await runKernel(ctx, 'f16', kernels.scale_columns, {
      params: { cols, n: n * cols }, bindings: { scale: upload(ctx, 't', [cols], 'f32', t), x: upload(ctx, 'x16', [n, cols], 'f16', Uint16Array.from(x, f32ToF16)), out: xt16 }, workgroups: [Math.ceil((n * cols) / 64)],
    });
    const got = f16ArrayToF32(new Uint16Array(await readTensor(ctx.device, xt16), 0, n * cols));
    expectClose(got, f16ArrayToF32(Uint16Array.from(scaleColumns(x16, t, n, cols), f32ToF16)), TOLERANCES.f16Activations);
  });

  const CASES: [string, QuantizeModelOptions][] = [
    ['sinq 4-bit group 64 (t per linear)', { method: 'sinq', bits: 4, group: 64 }],
    ['sinq 4-bit group 64 (t shared per input)', { method: 'sinq', bits: 4, group: 64, sharedInputScale: true }],
    ['sinq 3-bit group 32', { method: 'sinq', bits: 3, group: 32 }],
    ['rtn 2-bit group 64', { method: 'rtn', bits: 2, group: 64 }],
  ];
  // ~100 s per model on SwiftShader (measured): the whole-model cases run on lavapipe; SwiftShader runs the kernels
  // above and the LUT kernels' own tests (lut-ops.gpu.test.ts).
  const slow = gpu.adapter === 'swiftshader';
  it.skipIf(slow).each(CASES)(`stories260K %s: GPU (lut path) logits match the CPU reference on s·(q − z)·t, and it generates${slow ? ' (skipped on SwiftShader: ~100 s per model)' : ''}`, async (_label, options) => {
    const source = await readGguf(bytesSource(readSharedBytes('models/stories260K/stories260K-f32.gguf'), 'stories260K-f32.gguf'));
    const file = await readGguf(bytesSource(await quantizeGgufModel(source, options), 'quantized.gguf'));
    const model = await LlamaModel.load(ctx, file);
    expect(model.kernelPath).toBe('lut');
    // The first linear of blk.0 is wq, or [wq; wk; wv] when an RTN file's q/k/v are fused (fuse.ts; SINQ never is).
    const [wq] = layerLinears(model.weights.layers[0]!);
    expect(wq!.format === 'lut' && [wq!.bits, wq!.inputScale !== undefined]).toEqual([options.bits, options.method === 'sinq']);
    if (options.method === 'sinq') {
      // q, k and v each carry their own t tensor; per linear (the default) their values differ, shared they are equal.
      const scaleOf = (m: Weight) => {
        if (m.format !== 'lut' || !m.inputScale) throw new Error('expected a SINQ weight');
        return m.inputScale;
      };
      const qkv = model.weights.layers[0]!.qkv;
      if ('fused' in qkv) throw new Error('SINQ linears must not be fused: each reads its own x ⊙ t');
      const [sq, sk] = [qkv.q, qkv.k].map(scaleOf) as [GpuTensor, GpuTensor];
      expect(sk).not.toBe(sq);
      const [tq, tk] = await Promise.all([sq, sk].map(async (t) => Array.from(new Float32Array(await readTensor(ctx.device, t)))));
      if (options.sharedInputScale) expect(tk).toEqual(tq);
      else expect(tk).not.toEqual(tq);
    }
    const tokens = [1, 403, 407, 261, 378, 300, 45, 9, 77, 12, 99, 400];
    const { logits } = await model.forward(tokens, 0, 'all');
    const { logits: [lastRow] } = await model.forward(tokens, 0, 'last'); // the last-row prefill plan scales xb[0] alone
    const next = await model.decodeGreedy(tokens.length);
    model.destroy();
    const { config, weights } = await loadReferenceModel(await readGguf(bytesSource(await dequantizedGguf(file, await readTypedMetadata(file)), 'deq.gguf')));
    const expected = new ReferenceLlama(config, weights).forward(tokens, 0);
    const stats = expectClose(Float32Array.from(logits.flatMap((row) => Array.from(row))), expected, TOLERANCES.logitsGroupQuantGpuVsReference, 'gpu vs reference');
    console.info(`${gpu.adapter} ${_label}: max |Δlogit| vs CPU reference ${stats.maxAbsError.toExponential(2)}`);
    expectClose(lastRow!, expected.subarray((tokens.length - 1) * config.vocabSize), TOLERANCES.logitsGroupQuantGpuVsReference, 'last-row plan vs reference');
    expect(next).toBeGreaterThanOrEqual(0);
    expect(next).toBeLessThan(config.vocabSize);
  });

  it('rejects another kernel path for a group-quantized file with one clear message', async () => {
    const source = await readGguf(bytesSource(readSharedBytes('models/stories260K/stories260K-f32.gguf'), 'stories260K-f32.gguf'));
    const file = await readGguf(bytesSource(await quantizeGgufModel(source, { method: 'rtn', bits: 4 }), 'rtn4.gguf'));
    await expect(LlamaModel.load(ctx, file, { kernelPath: 'dequant' })).rejects.toThrow(/runs on kernel path 'lut' only/);
  });
});
