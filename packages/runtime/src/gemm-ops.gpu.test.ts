// The tiled prefill GEMM of every weight format against the CPU reference (dense: f32Kernel; quantized: the
// dequantized weights, quantVsDequantized). Token counts and row counts straddle the tile sizes.
import { dequantize, f16ArrayToF32, f32ToF16, quantize, repack, type QuantTypeName } from '@qgpu/formats';
import type { DeviceContext, GpuTensor } from '@qgpu/gpu';
import * as ref from '@qgpu/reference';
import * as kernels from '@qgpu/shaders';
import type { Prelude } from '@qgpu/shaders';
import { empty, expectClose, randomFloats, readTensor, runKernel, testGpu, TOLERANCES, upload } from '@qgpu/testing';
import { describe, it } from 'vitest';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const noF16 = !gpu.ctx?.hasF16;

const FORMATS = [
  ['F32', kernels.gemm_f32, 32], ['F16', kernels.gemm_f16, 32], ['Q8_0', kernels.gemm_q8_0, 32], ['Q4_0', kernels.gemm_q4_0, 32],
  ['Q4_1', kernels.gemm_q4_1, 32], ['Q5_0', kernels.gemm_q5_0, 32], ['Q5_1', kernels.gemm_q5_1, 32],
  ['Q4_K', kernels.gemm_q4_k, 256], ['Q6_K', kernels.gemm_q6_k, 256],
] as const;
type GemmKernel = (typeof FORMATS)[number][1];

/** The weight as the loader would upload it, and the values the kernel must behave as if it multiplied by. */
function weights(type: (typeof FORMATS)[number][0], rows: number, cols: number): { parts: Record<string, GpuTensor>; values: Float32Array } {
  const raw = randomFloats(rows + 3 * cols, rows * cols, 1);
  if (type === 'F32') return { parts: { weight: upload(ctx, 'w', [rows, cols], 'f32', raw) }, values: raw };
  if (type === 'F16') {
    const halves = Uint16Array.from(raw, f32ToF16);
    return { parts: { weight: upload(ctx, 'w', [rows, cols], 'f16', halves) }, values: f16ArrayToF32(halves) };
  }
  const bytes = quantize(type as QuantTypeName, raw);
  const parts: Record<string, GpuTensor> = {};
  for (const [name, words] of Object.entries(repack(type, bytes, rows * cols).parts)) parts[name] = upload(ctx, name, [words.length], 'u32', words);
  return { parts, values: dequantize(type, bytes, rows * cols) };
}

describe.skipIf(!gpu.ctx)(`tiled GEMM on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  describe.each(['f32', 'f16'] as Prelude[])('act=%s', (act) => {
    describe.skipIf(act === 'f16' && noF16)(act === 'f16' && noF16 ? 'skipped: no shader-f16' : 'variants', () => {
      describe.each(FORMATS)('%s', (type, kernel, block) => {
        it.each([[1, 1, 1], [65, 2, 9], [3, 1, 17], [130, 3, 8]])('rows=%i cols=%i·block tokens=%i', async (rows, colBlocks, n) => {
          const cols = colBlocks * block;
          const { parts, values } = weights(type, rows, cols);
          const xRaw = randomFloats(n * 7 + cols, n * cols, 1);
          const x = act === 'f16' ? f16ArrayToF32(Uint16Array.from(xRaw, f32ToF16)) : xRaw;
          const xTensor = act === 'f16' ? upload(ctx, 'x', [n, cols], 'f16', Uint16Array.from(xRaw, f32ToF16)) : upload(ctx, 'x', [n, cols], 'f32', x);
          const out = empty(ctx, 'out', [n, rows], act);
          await runKernel(ctx, act, kernel as GemmKernel, {
            params: { rows, cols, n_tokens: n },
            bindings: { x: xTensor, out, ...parts } as never,
            workgroups: [Math.ceil(rows / 64), Math.ceil(n / 8)],
          });
          const bytes = await readTensor(ctx.device, out);
          const actual = act === 'f16' ? f16ArrayToF32(new Uint16Array(bytes, 0, n * rows)) : new Float32Array(bytes, 0, n * rows);
          const tolerance = act === 'f16' ? TOLERANCES.f16Activations : type === 'F32' || type === 'F16' ? TOLERANCES.f32Kernel : TOLERANCES.quantVsDequantized;
          expectClose(actual, ref.matmul(values, x, rows, cols, n), tolerance, `gemm ${type}`);
        });
      });
    });
  });
});
