// Every kernel against its @qgpu/reference twin, on shapes that are not multiples of the workgroup size, with the
// tolerances from @qgpu/testing. Runs once per Vulkan driver (Vitest projects gpu-lavapipe and gpu-swiftshader).
import { f16ArrayToF32, f32ToF16 } from '@qgpu/formats';
import type { DeviceContext, DType, GpuTensor } from '@qgpu/gpu';
import * as ref from '@qgpu/reference';
import * as kernels from '@qgpu/shaders';
import type { Prelude } from '@qgpu/shaders';
import { empty, expectClose, randomFloats, randomInts, readTensor, runKernel, testGpu, TOLERANCES, upload } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { ropeTable } from './llama/rope.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const ACTS: Prelude[] = ['f32', 'f16'];
const noF16 = !gpu.ctx?.hasF16;
if (gpu.ctx && noF16) console.warn(`f16-activation kernel variants skipped on ${gpu.adapter}: the device has no shader-f16`);

const toF16Bits = (values: Float32Array) => Uint16Array.from(values, f32ToF16);
/** Rounds through f16 so the reference sees exactly what an f16 kernel reads. */
const roundAct = (values: Float32Array, act: Prelude) => (act === 'f16' ? f16ArrayToF32(toF16Bits(values)) : values);
const uploadAct = (label: string, shape: number[], values: Float32Array, act: Prelude): GpuTensor =>
  act === 'f16' ? upload(ctx, label, shape, 'f16', toF16Bits(values)) : upload(ctx, label, shape, 'f32', values);
const readAct = async (t: GpuTensor, count: number): Promise<Float32Array> => {
  const bytes = await readTensor(ctx.device, t);
  return t.dtype === 'f16' ? f16ArrayToF32(new Uint16Array(bytes, 0, count)) : new Float32Array(bytes, 0, count);
};
const tolFor = (act: Prelude, kind: 'f32Elementwise' | 'f32Kernel') => (act === 'f16' ? TOLERANCES.f16Activations : TOLERANCES[kind]);
const actDType = (act: Prelude): DType => act;

describe.skipIf(!gpu.ctx)(`kernels on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  describe.each(ACTS)('act=%s', (act) => { describe.skipIf(act === 'f16' && noF16)(act === 'f16' && noF16 ? 'skipped: no shader-f16' : 'variants', () => {
    it.each([[1, 1], [3, 33], [2, 257], [1, 1000]])('rms_norm rows=%i dim=%i', async (rows, dim) => {
      const x = roundAct(randomFloats(rows * dim, rows * dim, 2), act);
      const weight = randomFloats(7, dim, 1);
      const out = empty(ctx, 'out', [rows, dim], actDType(act));
      await runKernel(ctx, act, kernels.rms_norm, {
        params: { dim, eps: 1e-5 },
        bindings: { x: uploadAct('x', [rows, dim], x, act), weight: upload(ctx, 'w', [dim], 'f32', weight), out },
        workgroups: [rows],
      });
      expectClose(await readAct(out, rows * dim), ref.rmsNorm(x, weight, rows, dim, 1e-5), tolFor(act, 'f32Kernel'));
    });

    it.each([[1, 1, 1], [3, 31, 2], [33, 257, 3], [257, 33, 1], [5, 1031, 1]])('matmul rows=%i cols=%i tokens=%i', async (rows, cols, n) => {
      const x = roundAct(randomFloats(cols + n, n * cols, 1), act);
      const w32 = randomFloats(rows * 3 + cols, rows * cols, 0.5);
      const w16 = f16ArrayToF32(toF16Bits(w32));
      for (const [kernel, wTensor, wValues] of [
        [kernels.matmul_f32, upload(ctx, 'w', [rows, cols], 'f32', w32), w32],
        [kernels.matmul_f16, upload(ctx, 'w', [rows, cols], 'f16', toF16Bits(w32)), w16],
      ] as const) {
        const out = empty(ctx, 'out', [n, rows], actDType(act));
        await runKernel(ctx, act, kernel, {
          params: { rows, cols },
          bindings: { x: uploadAct('x', [n, cols], x, act), weight: wTensor, out },
          workgroups: [rows, 1, n],
        });
        expectClose(await readAct(out, n * rows), ref.matmul(wValues, x, rows, cols, n), tolFor(act, 'f32Kernel'), kernel.name);
      }
    });

    it.each([[1, 1], [37, 33], [5, 130]])('embed vocab=%i dim=%i (f32 and f16 tables)', async (vocab, dim) => {
      const table32 = randomFloats(vocab + dim, vocab * dim, 1);
      const table16 = f16ArrayToF32(toF16Bits(table32));
      const ids = [...randomInts(3, 4, vocab), vocab - 1];
      const tokens = upload(ctx, 'tokens', [ids.length], 'u32', new Uint32Array(ids));
      for (const [kernel, table, values] of [
        [kernels.embed_f32, upload(ctx, 't', [vocab, dim], 'f32', table32), table32],
        [kernels.embed_f16, upload(ctx, 't', [vocab, dim], 'f16', toF16Bits(table32)), table16],
      ] as const) {
        const out = empty(ctx, 'out', [ids.length, dim], actDType(act));
        await runKernel(ctx, act, kernel, {
          params: { dim, vocab_size: vocab },
          bindings: { tokens, table, out },
          workgroups: [Math.ceil(dim / kernel.overrides.WG_SIZE), ids.length],
        });
        expectClose(await readAct(out, ids.length * dim), roundAct(ref.embed(values, dim, ids), act), TOLERANCES.f32Elementwise, kernel.name);
      }
    });

    it.each([[3, 8, 6, 3, 5], [1, 64, 64, 2, 0], [5, 12, 12, 4, 30]])('rope (adjacent pairs) heads=%i head_dim=%i rope_dim=%i tokens=%i pos=%i', async (heads, headDim, ropeDim, n, pos) => {
      const maxPos = pos + n + 2;
      const x = roundAct(randomFloats(heads + pos, n * heads * headDim, 1), act);
      const xt = uploadAct('x', [n, heads * headDim], x, act);
      await runKernel(ctx, act, kernels.rope, {
        params: { n_heads: heads, head_dim: headDim, rope_dim: ropeDim, max_pos: maxPos },
        bindings: { cos_sin: upload(ctx, 'cs', [maxPos, ropeDim / 2, 2], 'f32', ropeTable({ style: 'norm', dim: ropeDim, freqBase: 10000, scaling: { type: 'none' } }, maxPos)), x: xt },
        workgroups: [Math.ceil((heads * ropeDim) / 2 / 64), n],
        step: { pos, nTokens: n },
      });
      const positions = Array.from({ length: n }, (_, t) => pos + t);
      expectClose(await readAct(xt, x.length), ref.ropeLlama(x, n, heads, headDim, positions, ropeDim, 10000), tolFor(act, 'f32Elementwise'));
    });

    it.each([1, 257, 1000])('add_inplace and silu_mul n=%i', async (count) => {
      const a = roundAct(randomFloats(count, count, 3), act);
      const b = roundAct(randomFloats(count + 1, count, 3), act);
      const wg = Math.ceil(count / 64);
      const x = uploadAct('x', [count], a, act);
      await runKernel(ctx, act, kernels.add_inplace, { params: { n: count }, bindings: { x, y: uploadAct('y', [count], b, act) }, workgroups: [wg] });
      expectClose(await readAct(x, count), ref.add(a, b), tolFor(act, 'f32Elementwise'), 'add');
      const gate = uploadAct('gate', [count], a, act);
      await runKernel(ctx, act, kernels.silu_mul, { params: { n: count }, bindings: { gate, up: uploadAct('up', [count], b, act) }, workgroups: [wg] });
      expectClose(await readAct(gate, count), ref.siluMul(a, b), tolFor(act, 'f32Elementwise'), 'silu_mul');
    });
  }); });

  it.each([1, 257, 1001])('argmax vocab=%i reads the last token row and breaks ties to the lower index', async (vocab) => {
    const rows = 2;
    const logits = randomFloats(vocab, rows * vocab, 1);
    const hi = Math.floor(vocab / 3);
    logits[vocab + hi] = 50;
    logits[vocab + vocab - 1] = 50;
    const out = empty(ctx, 'out', [1], 'u32');
    await runKernel(ctx, 'f32', kernels.argmax, {
      params: { vocab_size: vocab },
      bindings: { logits: upload(ctx, 'logits', [rows, vocab], 'f32', logits), out },
      workgroups: [1],
      step: { pos: 0, nTokens: rows },
    });
    const id = new Uint32Array(await readTensor(ctx.device, out))[0];
    expect(id).toBe(ref.argmax(logits.subarray(vocab)));
    expect(id).toBe(hi);
  });
});
