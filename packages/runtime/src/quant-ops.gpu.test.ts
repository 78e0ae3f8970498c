// Quantized matmul and embedding kernels against the CPU reference on the dequantized weights (same products,
// different summation order). Weights are quantized with llama.cpp's reference quantizers, repacked exactly as the
// loader does, and the shapes are not multiples of the workgroup size.
import { dequantize, f16ArrayToF32, f32ToF16, quantize, repack, type QuantTypeName } from '@qgpu/formats';
import type { DeviceContext, GpuTensor } from '@qgpu/gpu';
import * as ref from '@qgpu/reference';
import * as kernels from '@qgpu/shaders';
import type { Prelude } from '@qgpu/shaders';
import { empty, expectClose, randomFloats, randomInts, readTensor, runKernel, testGpu, TOLERANCES, upload } from '@qgpu/testing';
import { describe, it } from 'vitest';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const noF16 = !gpu.ctx?.hasF16;

const TYPES = [
  ['Q8_0', kernels.matmul_q8_0, kernels.embed_q8_0, 32],
  ['Q4_0', kernels.matmul_q4_0, kernels.embed_q4_0, 32],
  ['Q4_1', kernels.matmul_q4_1, kernels.embed_q4_1, 32],
  ['Q5_0', kernels.matmul_q5_0, kernels.embed_q5_0, 32],
  ['Q5_1', kernels.matmul_q5_1, kernels.embed_q5_1, 32],
  ['Q4_K', kernels.matmul_q4_k, kernels.embed_q4_k, 256],
  ['Q6_K', kernels.matmul_q6_k, kernels.embed_q6_k, 256],
] as const;

type AnyKernel = (typeof TYPES)[number][1] | (typeof TYPES)[number][2];

function quantized(type: QuantTypeName, rows: number, cols: number, seed: number) {
  const values = randomFloats(seed, rows * cols, 1);
  const bytes = quantize(type, values);
  const parts: Record<string, GpuTensor> = {};
  for (const [name, words] of Object.entries(repack(type, bytes, rows * cols).parts)) parts[name] = upload(ctx, name, [words.length], 'u32', words);
  return { dequantized: dequantize(type, bytes, rows * cols), parts };
}

const toAct = (values: Float32Array, act: Prelude) => (act === 'f16' ? f16ArrayToF32(Uint16Array.from(values, f32ToF16)) : values);
const uploadAct = (values: Float32Array, shape: number[], act: Prelude) =>
  act === 'f16' ? upload(ctx, 'x', shape, 'f16', Uint16Array.from(values, f32ToF16)) : upload(ctx, 'x', shape, 'f32', values);
async function readAct(t: GpuTensor, count: number): Promise<Float32Array> {
  const bytes = await readTensor(ctx.device, t);
  return t.dtype === 'f16' ? f16ArrayToF32(new Uint16Array(bytes, 0, count)) : new Float32Array(bytes, 0, count);
}

describe.skipIf(!gpu.ctx)(`quantized kernels on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  describe.each(['f32', 'f16'] as const)('act=%s', (act) => {
    describe.skipIf(act === 'f16' && noF16)(act === 'f16' && noF16 ? 'skipped: no shader-f16' : 'variants', () => {
      describe.each(TYPES)('%s', (type, matmulKernel, embedKernel, block) => {
        it.each([[1, 1, 1], [3, 3, 2], [33, 5, 1], [7, 13, 3]])('matmul rows=%i cols=%i·block tokens=%i', async (rows, colBlocks, n) => {
          const cols = colBlocks * block;
          const { dequantized, parts } = quantized(type, rows, cols, rows * 31 + cols);
          const x = toAct(randomFloats(n + cols, n * cols, 1), act);
          const out = empty(ctx, 'out', [n, rows], act);
          await runKernel(ctx, act, matmulKernel as AnyKernel, {
            params: { rows, cols } as never,
            bindings: { x: uploadAct(x, [n, cols], act), out, ...parts } as never,
            workgroups: [rows, 1, n],
          });
          const tolerance = act === 'f16' ? TOLERANCES.f16Activations : TOLERANCES.quantVsDequantized;
          expectClose(await readAct(out, n * rows), ref.matmul(dequantized, x, rows, cols, n), tolerance, `matmul ${type}`);
        });

        it('embedding rows gathered from the quantized table equal the dequantized rows', async () => {
          const [vocab, dim] = [37, 3 * block];
          const { dequantized, parts } = quantized(type, vocab, dim, 5);
          const ids = [...randomInts(9, 4, vocab), vocab - 1, 0];
          const out = empty(ctx, 'out', [ids.length, dim], act);
          await runKernel(ctx, act, embedKernel as AnyKernel, {
            params: { dim, vocab_size: vocab } as never,
            bindings: { tokens: upload(ctx, 'tokens', [ids.length], 'u32', new Uint32Array(ids)), out, ...parts } as never,
            workgroups: [Math.ceil(dim / 64), ids.length],
          });
          expectClose(await readAct(out, ids.length * dim), toAct(ref.embed(dequantized, dim, ids), act), TOLERANCES.f32Elementwise, `embed ${type}`);
        });
      });
    });
  });
});
