// The decode GEMVs in both reduction variants: the workgroup-memory tree (matmul_*) and subgroupAdd
// (matmul_*_sg, lib/reduce_subgroup.wgsl), which ops.ts picks when the device has `subgroups`. Lavapipe's subgroups
// have 8 lanes and SwiftShader's 4 (docs/environment.md), and each variant runs at workgroup sizes 32 and 128 (64,
// the default, runs in every model test), so a workgroup holds 4 to 32 subgroups. Both variants are checked against the same CPU reference (dequantized
// weights; for dp4a the int8 twin fed the GPU's own activations) on rows and units per row that are not multiples
// of the workgroup size.
import { dequantize, quantize, quantizeLut, repack, type LutBits, type QuantTypeName } from '@qgpu/formats';
import type { DeviceContext, GpuTensor } from '@qgpu/gpu';
import * as ref from '@qgpu/reference';
import type { Dp4aWeightType } from '@qgpu/reference';
import * as kernels from '@qgpu/shaders';
import { compareArrays, empty, expectClose, randomFloats, readTensor, runKernel, testGpu, TOLERANCES, upload } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const hasSubgroups = gpu.ctx?.features.has('subgroups') ?? false;

const VARIANTS = {
  Q8_0: [kernels.matmul_q8_0, kernels.matmul_q8_0_sg],
  Q4_0: [kernels.matmul_q4_0, kernels.matmul_q4_0_sg],
  Q4_1: [kernels.matmul_q4_1, kernels.matmul_q4_1_sg],
  Q5_0: [kernels.matmul_q5_0, kernels.matmul_q5_0_sg],
  Q5_1: [kernels.matmul_q5_1, kernels.matmul_q5_1_sg],
  Q4_K: [kernels.matmul_q4_k, kernels.matmul_q4_k_sg],
  Q6_K: [kernels.matmul_q6_k, kernels.matmul_q6_k_sg],
} as const satisfies Record<QuantTypeName, readonly unknown[]>;
const DP4A_VARIANTS = {
  Q8_0: [kernels.matmul_dp4a_q8_0, kernels.matmul_dp4a_q8_0_sg],
  Q4_0: [kernels.matmul_dp4a_q4_0, kernels.matmul_dp4a_q4_0_sg],
  Q4_K: [kernels.matmul_dp4a_q4_k, kernels.matmul_dp4a_q4_k_sg],
} as const satisfies Record<Dp4aWeightType, readonly unknown[]>;
type AnyKernel = (typeof VARIANTS)[QuantTypeName][number] | (typeof DP4A_VARIANTS)[Dp4aWeightType][number];

const WG_SIZES = [32, 128];
/** rows, units per row, tokens: 67 units > 64 lanes and not a multiple of 32 or 128. */
const SHAPES: [number, number, number][] = [[5, 67, 2], [33, 9, 1]];

function quantized(type: QuantTypeName, rows: number, cols: number, seed: number) {
  const bytes = quantize(type, randomFloats(seed, rows * cols, 1));
  const words = repack(type, bytes, rows * cols).parts;
  const parts: Record<string, GpuTensor> = {};
  for (const [name, w] of Object.entries(words)) parts[name] = upload(ctx, name, [w.length], 'u32', w);
  return { words, parts, dequantized: dequantize(type, bytes, rows * cols) };
}

async function run(kernel: AnyKernel, bindings: Record<string, GpuTensor>, rows: number, cols: number, n: number, wgSize: number): Promise<Float32Array> {
  const out = empty(ctx, 'out', [n, rows], 'f32');
  await runKernel(ctx, 'f32', kernel, {
    params: { rows, cols },
    bindings: { ...bindings, out } as never,
    overrides: { WG_SIZE: wgSize },
    workgroups: [rows, 1, n],
  });
  return new Float32Array(await readTensor(ctx.device, out));
}

const skipReason = !gpu.ctx ? ` (skipped: ${gpu.reason})` : !hasSubgroups ? ' (skipped: the device lacks the subgroups feature)' : '';

describe.skipIf(!gpu.ctx || !hasSubgroups)(`GEMV reductions, workgroup memory vs subgroups, on ${gpu.adapter}${skipReason}`, () => {
  describe.each(Object.keys(VARIANTS) as QuantTypeName[])('matmul %s', (type) => {
    it.each(SHAPES.flatMap((s) => WG_SIZES.map((wg) => [...s, wg] as const)))(
      'rows=%i units=%i tokens=%i WG_SIZE=%i: both variants equal W·x', async (rows, units, n, wgSize) => {
        const cols = units * (type === 'Q4_K' || type === 'Q6_K' ? 256 : 32);
        const { parts, dequantized } = quantized(type, rows, cols, rows * 13 + cols);
        const x = randomFloats(n * 5 + cols, n * cols, 1);
        const expected = ref.matmul(dequantized, x, rows, cols, n);
        const bindings = { ...parts, x: upload(ctx, 'x', [n, cols], 'f32', x) };
        const [plain, sg] = VARIANTS[type];
        const yPlain = await run(plain, bindings, rows, cols, n, wgSize);
        const ySg = await run(sg, bindings, rows, cols, n, wgSize);
        expectClose(yPlain, expected, TOLERANCES.quantVsDequantized, `${plain.name} WG_SIZE=${wgSize}`);
        const stats = expectClose(ySg, expected, TOLERANCES.quantVsDequantized, `${sg.name} WG_SIZE=${wgSize}`);
        // Guards against a variant that silently drops subgroups' partial sums: the two must agree to f32 rounding.
        expect(compareArrays(ySg, yPlain).nmse).toBeLessThan(1e-10);
        console.info(`${gpu.adapter} ${sg.name} ${rows}×${cols}×${n} WG_SIZE=${wgSize}: vs W·x NMSE ${stats.nmse.toExponential(2)}`);
      });
  });

  describe.each(Object.keys(DP4A_VARIANTS) as Dp4aWeightType[])('matmul_dp4a %s', (type) => {
    it.each(SHAPES.flatMap((s) => WG_SIZES.map((wg) => [...s, wg] as const)))(
      'rows=%i units=%i tokens=%i WG_SIZE=%i: both variants equal the int8 twin', async (rows, units, n, wgSize) => {
        const cols = units * (type === 'Q4_K' ? 256 : 32);
        const { words, parts } = quantized(type, rows, cols, rows * 17 + cols);
        const x = randomFloats(n * 7 + cols, n * cols, 1);
        // The int8 activations come from the CPU quantizer here: both variants and the twin read the same codes.
        const act = ref.quantizeActQ8(x, n, cols);
        const int8 = {
          xq: upload(ctx, 'xq', [n, cols / 4], 'u32', act.xq),
          xd: upload(ctx, 'xd', [n, cols / 32], 'f32', act.xd),
          ...(type === 'Q8_0' ? {} : { xs: upload(ctx, 'xs', [n, cols / 32], 'f32', act.xs) }),
        };
        const twin = ref.matmulDp4a(type, words, act, rows, cols, n);
        const [plain, sg] = DP4A_VARIANTS[type];
        const yPlain = await run(plain, { ...parts, ...int8 }, rows, cols, n, wgSize);
        const ySg = await run(sg, { ...parts, ...int8 }, rows, cols, n, wgSize);
        expectClose(yPlain, twin, TOLERANCES.int8DotVsTwin, `${plain.name} WG_SIZE=${wgSize}`);
        const stats = expectClose(ySg, twin, TOLERANCES.int8DotVsTwin, `${sg.name} WG_SIZE=${wgSize}`);
        console.info(`${gpu.adapter} ${sg.name} ${rows}×${cols}×${n} WG_SIZE=${wgSize}: vs twin max |Δ| ${stats.maxAbsError.toExponential(2)}`);
      });
  });
});
