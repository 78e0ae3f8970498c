// CrossQuant on the dp4a path with a whole model: stories260K-q8_0 with calibration statistics, against the CPU
// reference running the same W8A8 arithmetic (crossQuantHook: weights Q8_0 of W·diag(c^(1−α)), activations
// fake-quantized with the CrossQuant codes), and the kernel counter against the CPU's count of zeroed activations.
import { bytesSource, readGguf } from '@qgpu/formats';
import type { DeviceContext } from '@qgpu/gpu';
import { calibrateModel, crossQuantHook } from '@qgpu/quant';
import { loadReferenceModel, ReferenceLlama } from '@qgpu/reference';
import { expectClose, readSharedBytes, readTensor, testGpu, TOLERANCES } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { layerLinears } from './load.ts';
import { LlamaModel } from './model.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const noDp4a = !!gpu.ctx && !ctx.wgslFeatures.has('packed_4x8_integer_dot_product');

describe.skipIf(!gpu.ctx || noDp4a)(`CrossQuant dp4a model on ${gpu.adapter}${noDp4a ? ' (skipped: no packed_4x8_integer_dot_product)' : ''}`, () => {
  it.each([0.5, 1])('stories260K-q8_0, α=%s: logits match the CPU W8A8 CrossQuant reference; kernel counts agree', async (alpha) => {
    const file = await readGguf(bytesSource(readSharedBytes('models/stories260K/stories260K-q8_0.gguf'), 'stories260K-q8_0.gguf'));
    const calibrationTokens = [1, 403, 407, 261, 378, 300, 45, 9, 77, 12, 99, 400, 33, 250, 18, 61, 7, 301, 290, 15];
    const stats = await calibrateModel(file, calibrationTokens);
    const model = await LlamaModel.load(ctx, file, { kernelPath: 'dp4a', crossQuant: { columnAbsMax: Object.fromEntries(stats), alpha } });
    // Exactly one prefill chunk (32): the kernel quantizes every row of the chunk buffer, so its counter is only
    // comparable when every row is a real token.
    const tokens = [1, ...Array.from({ length: 31 }, (_, i) => 3 + ((i * 53) % 500))];
    const { logits } = await model.forward(tokens, 0, 'all');
    // gate and up read the same input, so their calibrated column absmax are equal and they are fused (fuse.ts): the
    // reference below checks the fused CrossQuant fold too.
    expect(model.weights.layers.every((layer) => 'fused' in layer.gateUp)).toBe(true);
    const [wq] = layerLinears(model.weights.layers[0]!); // wq, or [wq; wk; wv] fused: the counter of blk.0's q/k/v input
    const counter = wq!.format === 'q8_0' ? wq!.crossQuant?.zeroCount : undefined;
    expect(counter).toBeDefined();
    const [nonzero = 0, zeroed = 0] = new Uint32Array(await readTensor(ctx.device, counter!), 0, 2);
    model.destroy();

    const { config, weights } = await loadReferenceModel(file);
    const w8a8 = crossQuantHook(stats, alpha, (name, cols) => cols % 32 === 0);
    const expected = new ReferenceLlama(config, weights, w8a8.hook).forward(tokens, 0);
    // Token by token: every token within the one-code-flip bound, and all but at most one (the token where an
    // activation code sat on a rounding edge, if any) within the tight bound of identical codes.
    const vocab = config.vocabSize;
    const perToken = logits.map((row, t) => {
      const want = expected.subarray(t * vocab, (t + 1) * vocab);
      const loose = expectClose(row, want, TOLERANCES.logitsCrossQuantCodeFlip, `α=${alpha} token ${t}`);
      return { t, maxAbs: loose.maxAbsError, tight: loose.maxAbsError <= TOLERANCES.logitsCrossQuantGpuVsReference.atol };
    });
    const flipped = perToken.filter((r) => !r.tight);
    expect(flipped.length, `tokens off by more than ${TOLERANCES.logitsCrossQuantGpuVsReference.atol}: ${flipped.map((r) => `${r.t} (${r.maxAbs.toExponential(2)})`).join(', ')}`).toBeLessThanOrEqual(1);
    const tightMax = Math.max(...perToken.filter((r) => r.tight).map((r) => r.maxAbs));
    // blk.0's q/k/v input: the GPU counter saw the same activations (one prefill pass) as the CPU count for attn_q.
    const cpu = w8a8.perLinear.get('blk.0.attn_q.weight')!;
    console.info(`${gpu.adapter} CrossQuant α=${alpha}: max |Δlogit| ${tightMax.toExponential(2)} on ${perToken.length - flipped.length} tokens`
      + `${flipped.map((r) => `, ${r.maxAbs.toExponential(2)} on token ${r.t} (a code on a rounding edge)`).join('')}; blk.0 qkv kernel GPU ${zeroed}/${nonzero}, CPU ${cpu.zeroed}/${cpu.nonzero}`);
    expect(nonzero).toBe(cpu.nonzero);
    expect(Math.abs(zeroed - cpu.zeroed)).toBeLessThanOrEqual(Math.max(2, cpu.nonzero * 0.002));
  });
});
