// Multi-row decode GEMVs (lib/body/gemv_rows.wgsl): THREADS_PER_ROW lanes per output row, WG_SIZE / THREADS_PER_ROW
// rows per workgroup, the per-row sum through workgroup memory (lib/reduce_rows.wgsl) in both the base and the _sg
// variants. Against the CPU reference (dequantized weights; the int8 twin on the GPU's own activations for dp4a) on
// row counts that are not multiples of the rows per workgroup, with the workgroups split over x and y the way ops.ts
// splits counts over the per-dimension limit (x + y·(x-count), the trailing workgroups past the last row idle). With
// THREADS_PER_ROW = WG_SIZE the kernels must be the one-row-per-workgroup kernels: bit-identical to the default.
import { dequantize, f16ArrayToF32, f32ToF16, quantize, repack, type QuantTypeName } from '@qgpu/formats';
import type { DeviceContext, GpuTensor } from '@qgpu/gpu';
import * as ref from '@qgpu/reference';
import * as kernels from '@qgpu/shaders';
import { empty, expectClose, randomFloats, readTensor, runKernel, testGpu, TOLERANCES, upload } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const hasSubgroups = gpu.ctx?.features.has('subgroups') ?? false;
const hasDp4a = gpu.ctx?.wgslFeatures.has('packed_4x8_integer_dot_product') ?? false;

const DEQUANT = [
  ['Q4_0', kernels.matmul_q4_0, 32],
  ['Q4_0', kernels.matmul_q4_0_sg, 32],
  ['Q8_0', kernels.matmul_q8_0_sg, 32],
  ['Q4_K', kernels.matmul_q4_k_sg, 256],
  ['Q6_K', kernels.matmul_q6_k, 256],
] as const;
const DP4A = [
  ['Q4_0', kernels.matmul_dp4a_q4_0],
  ['Q4_0', kernels.matmul_dp4a_q4_0_sg],
  ['Q4_K', kernels.matmul_dp4a_q4_k_sg],
] as const;
type AnyKernel = (typeof DEQUANT)[number][1] | (typeof DP4A)[number][1] | typeof kernels.matmul_f32 | typeof kernels.matmul_f16;

/** Lanes per row tried: 1 (64 rows per workgroup) … 64 (the one-row kernel). */
const THREADS = [1, 4, 16, 64];
/** 37 rows: not a multiple of any rows-per-workgroup count above 1; 3 tokens. */
const [ROWS, N] = [37, 3];
/** x-count of the dispatch: the slot groups are split over x and y like ops.ts splits counts over the 65535 limit. */
const SPLIT_X = 2;

async function run(kernel: AnyKernel, bindings: Record<string, GpuTensor>, cols: number, threadsPerRow: number): Promise<Float32Array> {
  const out = empty(ctx, 'out', [N, ROWS], 'f32');
  const groups = Math.ceil(ROWS / (64 / threadsPerRow));
  const x = Math.min(SPLIT_X, groups);
  await runKernel(ctx, 'f32', kernel, {
    params: { rows: ROWS, cols },
    bindings: { ...bindings, out } as never,
    overrides: { THREADS_PER_ROW: threadsPerRow },
    workgroups: [x, Math.ceil(groups / x), N],
  });
  return new Float32Array(await readTensor(ctx.device, out), 0, N * ROWS);
}

function quantizedParts(type: QuantTypeName, values: Float32Array) {
  const bytes = quantize(type, values);
  const words = repack(type, bytes, values.length).parts;
  const parts: Record<string, GpuTensor> = {};
  for (const [name, w] of Object.entries(words)) parts[name] = upload(ctx, name, [w.length], 'u32', w);
  return { words, parts, dequantized: dequantize(type, bytes, values.length) };
}

const skipReason = !gpu.ctx ? ` (skipped: ${gpu.reason})` : !hasSubgroups ? ' (skipped: the device lacks the subgroups feature the _sg cases need)' : '';

describe.skipIf(!gpu.ctx || !hasSubgroups)(`multi-row decode GEMVs on ${gpu.adapter}${skipReason}`, () => {
  describe.each(DEQUANT.map(([type, kernel, block]) => [kernel.name, type, kernel, block] as const))('%s', (_, type, kernel, block) => {
    it.each(THREADS)('THREADS_PER_ROW=%i matches the reference on the dequantized weights', async (threads) => {
      const cols = 5 * block;
      const { parts, dequantized } = quantizedParts(type, randomFloats(cols + 1, ROWS * cols, 1));
      const x = randomFloats(cols + 2, N * cols, 1);
      const expected = ref.matmul(dequantized, x, ROWS, cols, N);
      const y = await run(kernel, { x: upload(ctx, 'x', [N, cols], 'f32', x), ...parts }, cols, threads);
      expectClose(y, expected, TOLERANCES.quantVsDequantized, `${kernel.name} THREADS_PER_ROW=${threads}`);
      if (threads === 64) {
        const byDefault = await run(kernel, { x: upload(ctx, 'x', [N, cols], 'f32', x), ...parts }, cols, kernel.overrides.THREADS_PER_ROW);
        expect(Array.from(y)).toEqual(Array.from(byDefault));
      }
    });
  });

  describe.each([['matmul_f32', 'f32'], ['matmul_f16', 'f16']] as const)('%s, cols 173 (not whole units)', (name, dtype) => {
    it.each(THREADS)('THREADS_PER_ROW=%i matches the reference', async (threads) => {
      const cols = 173;
      const values = randomFloats(7, ROWS * cols, 1);
      const bits = Uint16Array.from(values, f32ToF16);
      const weight = dtype === 'f32' ? upload(ctx, 'w', [ROWS, cols], 'f32', values) : upload(ctx, 'w', [ROWS, cols], 'f16', bits);
      const w = dtype === 'f32' ? values : f16ArrayToF32(bits);
      const x = randomFloats(8, N * cols, 1);
      const y = await run(kernels[name], { x: upload(ctx, 'x', [N, cols], 'f32', x), weight }, cols, threads);
      expectClose(y, ref.matmul(w, x, ROWS, cols, N), TOLERANCES.f32Kernel, `${name} THREADS_PER_ROW=${threads}`);
    });
  });

  describe.skipIf(!hasDp4a)(hasDp4a ? 'dp4a' : 'dp4a (skipped: no packed_4x8_integer_dot_product)', () => {
    describe.each(DP4A.map(([type, kernel]) => [kernel.name, type, kernel] as const))('%s', (_, type, kernel) => {
      it.each(THREADS)('THREADS_PER_ROW=%i matches the int8 twin on the GPU activations', async (threads) => {
        const cols = 512;
        const { words, parts } = quantizedParts(type, randomFloats(11, ROWS * cols, 1));
        const x = randomFloats(12, N * cols, 1);
        const nBlocks = (N * cols) / 32;
        const act = { xq: empty(ctx, 'xq', [N, cols / 4], 'u32'), xd: empty(ctx, 'xd', [N, cols / 32], 'f32'), xs: empty(ctx, 'xs', [N, cols / 32], 'f32') };
        await runKernel(ctx, 'f32', kernels.quantize_act_q8, {
          params: { n_blocks: nBlocks },
          bindings: { x: upload(ctx, 'x', [N, cols], 'f32', x), ...act },
          workgroups: [Math.ceil(nBlocks / kernels.quantize_act_q8.overrides.WG_SIZE)],
        });
        const y = await run(kernel, { ...act, ...parts }, cols, threads);
        const twinAct = {
          xq: new Uint32Array(await readTensor(ctx.device, act.xq), 0, (N * cols) / 4),
          xd: new Float32Array(await readTensor(ctx.device, act.xd), 0, nBlocks),
          xs: new Float32Array(await readTensor(ctx.device, act.xs), 0, nBlocks),
        };
        expectClose(y, ref.matmulDp4a(type, words, twinAct, ROWS, cols, N), TOLERANCES.int8DotVsTwin, `${kernel.name} THREADS_PER_ROW=${threads}`);
      });
    });
  });
});
