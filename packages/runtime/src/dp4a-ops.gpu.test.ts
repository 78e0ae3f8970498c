// The int8 ("dp4a") kernels against their CPU twins in @qgpu/reference/int8.ts: the activation quantizers
// (quantize_act_q8, quantize_act_crossquant) code by code, and the integer-dot matmuls (decode GEMV matmul_dp4a_*,
// prefill GEMM gemm_dp4a_*) fed the GPU's own quantized
// activations, so only f32 rounding and summation order separate GPU and twin. Weights come from llama.cpp's
// reference quantizers, repacked as the loader does; rows and units per row are not multiples of the workgroup size.
import { dequantize, f16ArrayToF32, f32ToF16, quantize, repack } from '@qgpu/formats';
import type { DeviceContext, GpuTensor } from '@qgpu/gpu';
import * as ref from '@qgpu/reference';
import type { Dp4aWeightType, Int8Activations } from '@qgpu/reference';
import * as kernels from '@qgpu/shaders';
import type { Prelude } from '@qgpu/shaders';
import { compareArrays, empty, expectClose, randomFloats, readTensor, runKernel, testGpu, TOLERANCES, upload } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const noF16 = !gpu.ctx?.hasF16;

/** Uniform values with every 37th a 10× outlier and every 53rd exactly 0, so blocks differ in amax and some codes vanish. */
function activations(seed: number, count: number): Float32Array {
  const x = randomFloats(seed, count, 1);
  for (let i = 0; i < count; i++) x[i] = i % 53 === 7 ? 0 : i % 37 === 5 ? x[i]! * 10 : x[i]!;
  return x;
}

const toAct = (values: Float32Array, act: Prelude) => (act === 'f16' ? f16ArrayToF32(Uint16Array.from(values, f32ToF16)) : values);
const uploadAct = (values: Float32Array, shape: number[], act: Prelude) =>
  act === 'f16' ? upload(ctx, 'x', shape, 'f16', Uint16Array.from(values, f32ToF16)) : upload(ctx, 'x', shape, 'f32', values);
async function readAct(t: GpuTensor, count: number): Promise<Float32Array> {
  const bytes = await readTensor(ctx.device, t);
  return t.dtype === 'f16' ? f16ArrayToF32(new Uint16Array(bytes, 0, count)) : new Float32Array(bytes, 0, count);
}

interface GpuInt8 { readonly tensors: { xq: GpuTensor; xd: GpuTensor; xs: GpuTensor }; readonly act: Int8Activations }

const int8Tensors = (n: number, cols: number) => ({
  xq: empty(ctx, 'xq', [n, cols / 4], 'u32'), xd: empty(ctx, 'xd', [n, cols / 32], 'f32'), xs: empty(ctx, 'xs', [n, cols / 32], 'f32'),
});

async function readInt8(tensors: GpuInt8['tensors']): Promise<Int8Activations> {
  const [xq, xd, xs] = await Promise.all([tensors.xq, tensors.xd, tensors.xs].map((t) => readTensor(ctx.device, t)));
  return { xq: new Uint32Array(xq!), xd: new Float32Array(xd!), xs: new Float32Array(xs!) };
}

async function quantizeOnGpu(x: Float32Array, n: number, cols: number, act: Prelude): Promise<GpuInt8> {
  const tensors = int8Tensors(n, cols);
  const nBlocks = (n * cols) / 32;
  await runKernel(ctx, act, kernels.quantize_act_q8, {
    params: { n_blocks: nBlocks },
    bindings: { x: uploadAct(x, [n, cols], act), ...tensors },
    workgroups: [Math.ceil(nBlocks / kernels.quantize_act_q8.overrides.WG_SIZE)],
  });
  return { tensors, act: await readInt8(tensors) };
}

const allCodes = (a: Int8Activations) => Int32Array.from({ length: a.xd.length * 32 }, (_, e) => ref.codeAt(a, e >> 5, e & 31));

/**
 * GPU int8 activations vs the twin's: codes within one step, scales, and xs = xd·Σq. Returns a summary of how many
 * codes differ at all and the worst relative scale error, for the log.
 */
function expectSameInt8(got: Int8Activations, want: Int8Activations, label: string): string {
  const [g, w] = [allCodes(got), allCodes(want)];
  expectClose(g, w, TOLERANCES.int8Codes, `${label} codes`);
  const scales = expectClose(got.xd, want.xd, TOLERANCES.int8Scales, `${label} xd`);
  const sums = Float32Array.from(got.xd, (d, b) => d * g.subarray(32 * b, 32 * b + 32).reduce((s, q) => s + q, 0));
  expectClose(got.xs, sums, TOLERANCES.f32Elementwise, `${label} xs = xd·Σq`);
  const differing = g.reduce((n, q, i) => n + (q === w[i] ? 0 : 1), 0);
  return `${differing} of ${g.length} codes differ from the twin (by one), xd max rel error ${scales.maxRelError.toExponential(2)}`;
}

const SHAPES: Record<Dp4aWeightType, [rows: number, cols: number, tokens: number][]> = {
  // 65 units per row: more than one pass of the 64 lanes, and not a multiple of them.
  Q8_0: [[1, 32, 1], [3, 96, 2], [33, 2080, 3], [257, 160, 1]],
  Q4_0: [[1, 32, 1], [3, 96, 2], [33, 2080, 3], [257, 160, 1]],
  // 72 sub-block units per row for cols 2304.
  Q4_K: [[1, 256, 1], [3, 768, 2], [33, 2304, 3], [257, 256, 1]],
};
const MATMULS = { Q8_0: kernels.matmul_dp4a_q8_0, Q4_0: kernels.matmul_dp4a_q4_0, Q4_K: kernels.matmul_dp4a_q4_k } as const;
type AnyMatmul = (typeof MATMULS)[Dp4aWeightType];

/**
 * Prefill GEMM shapes: rows not a multiple of the 64-row workgroup, token counts not a multiple of the 8-token tile
 * (so the last tile is partial), one token (a tile of 1), and the same unit counts as SHAPES.
 */
const GEMM_SHAPES: Record<Dp4aWeightType, [rows: number, cols: number, tokens: number][]> = {
  Q8_0: [[1, 32, 1], [3, 96, 9], [65, 2080, 17], [257, 160, 5]],
  Q4_0: [[1, 32, 1], [3, 96, 9], [65, 2080, 17], [257, 160, 5]],
  Q4_K: [[1, 256, 1], [3, 768, 9], [65, 2304, 17], [257, 256, 5]],
};
const GEMMS = { Q8_0: kernels.gemm_dp4a_q8_0, Q4_0: kernels.gemm_dp4a_q4_0, Q4_K: kernels.gemm_dp4a_q4_k } as const;
type AnyGemm = (typeof GEMMS)[Dp4aWeightType];

async function gemmOnGpu(type: Dp4aWeightType, parts: Record<string, GpuTensor>, q: GpuInt8, rows: number, cols: number, n: number, act: Prelude) {
  const out = empty(ctx, 'out', [n, rows], act);
  const kernel = GEMMS[type] as AnyGemm;
  await runKernel(ctx, act, kernel, {
    params: { rows, cols, n_tokens: n },
    bindings: { ...q.tensors, out, ...parts } as never,
    workgroups: [Math.ceil(rows / kernel.overrides.WG_SIZE), Math.ceil(n / kernel.overrides.TILE_TOKENS)],
  });
  return readAct(out, n * rows);
}

function quantized(type: Dp4aWeightType, rows: number, cols: number, seed: number) {
  const bytes = quantize(type, randomFloats(seed, rows * cols, 1));
  const words = repack(type, bytes, rows * cols).parts;
  const parts: Record<string, GpuTensor> = {};
  for (const [name, w] of Object.entries(words)) parts[name] = upload(ctx, name, [w.length], 'u32', w);
  return { words, parts, dequantized: dequantize(type, bytes, rows * cols) };
}

async function matmulOnGpu(type: Dp4aWeightType, parts: Record<string, GpuTensor>, q: GpuInt8, rows: number, cols: number, n: number, act: Prelude) {
  const out = empty(ctx, 'out', [n, rows], act);
  const { xq, xd, xs } = q.tensors;
  await runKernel(ctx, act, MATMULS[type] as AnyMatmul, {
    params: { rows, cols },
    bindings: { xq, xd, ...(type === 'Q8_0' ? {} : { xs }), out, ...parts } as never,
    workgroups: [rows, 1, n],
  });
  return readAct(out, n * rows);
}

describe.skipIf(!gpu.ctx)(`int8 (dp4a) kernels on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  describe.each(['f32', 'f16'] as const)('act=%s', (act) => {
    describe.skipIf(act === 'f16' && noF16)(act === 'f16' && noF16 ? 'skipped: no shader-f16' : 'variants', () => {
      it.each([[1, 32], [2, 96], [3, 2080], [3, 2304]])('quantize_act_q8 tokens=%i cols=%i matches quantizeActQ8', async (n, cols) => {
        const x = toAct(activations(n * 7 + cols, n * cols), act);
        const { act: got } = await quantizeOnGpu(x, n, cols, act);
        const summary = expectSameInt8(got, ref.quantizeActQ8(x, n, cols), 'quantize_act_q8');
        console.info(`${gpu.adapter} act=${act} quantize_act_q8 ${n}×${cols}: ${summary}`);
      });

      describe.each(Object.keys(SHAPES) as Dp4aWeightType[])('matmul_dp4a %s', (type) => {
        it.each(SHAPES[type])('rows=%i cols=%i tokens=%i matches matmulDp4a', async (rows, cols, n) => {
          const { words, parts, dequantized } = quantized(type, rows, cols, rows * 31 + cols);
          const x = toAct(activations(n + cols, n * cols), act);
          const q = await quantizeOnGpu(x, n, cols, act);
          const y = await matmulOnGpu(type, parts, q, rows, cols, n, act);
          const twin = toAct(ref.matmulDp4a(type, words, q.act, rows, cols, n), act);
          const vsTwin = expectClose(y, twin, act === 'f16' ? TOLERANCES.f16Activations : TOLERANCES.int8DotVsTwin, `matmul_dp4a ${type}`);
          // How far the int8 activations move the result from the float product on the same weights (information).
          const vsFloat = compareArrays(y, ref.matmul(dequantized, x, rows, cols, n));
          console.info(`${gpu.adapter} act=${act} ${type} ${rows}×${cols}×${n}: vs twin max |Δ| ${vsTwin.maxAbsError.toExponential(2)} `
            + `NMSE ${vsTwin.nmse.toExponential(2)}; vs f32 activations NMSE ${vsFloat.nmse.toExponential(2)}`);
          expect(vsFloat.nmse).toBeLessThan(1e-3);
        });
      });

      describe.each(Object.keys(GEMM_SHAPES) as Dp4aWeightType[])('gemm_dp4a %s', (type) => {
        it.each(GEMM_SHAPES[type])('rows=%i cols=%i tokens=%i matches matmulDp4a', async (rows, cols, n) => {
          const { words, parts } = quantized(type, rows, cols, rows * 29 + cols);
          const x = toAct(activations(n * 3 + cols, n * cols), act);
          const q = await quantizeOnGpu(x, n, cols, act);
          const y = await gemmOnGpu(type, parts, q, rows, cols, n, act);
          const twin = toAct(ref.matmulDp4a(type, words, q.act, rows, cols, n), act);
          const vsTwin = expectClose(y, twin, act === 'f16' ? TOLERANCES.f16Activations : TOLERANCES.int8DotVsTwin, `gemm_dp4a ${type}`);
          console.info(`${gpu.adapter} act=${act} gemm_dp4a ${type} ${rows}×${cols}×${n}: vs twin max |Δ| ${vsTwin.maxAbsError.toExponential(2)} `
            + `NMSE ${vsTwin.nmse.toExponential(2)}`);
        });
      });

      it.each([0.5, 1])('quantize_act_crossquant α=%s matches crossQuant and counts its kernel', async (alpha) => {
        const [n, cols] = [3, 2080];
        const x = toAct(activations(99, n * cols), act);
        const colMax = new Float32Array(cols);
        x.forEach((v, e) => { colMax[e % cols] = Math.max(colMax[e % cols]!, Math.abs(v)); });
        colMax[5] = 0; // a column never active in calibration: its codes must be 0
        const tensors = int8Tensors(n, cols);
        const zeroCount = empty(ctx, 'zero_count', [2], 'u32');
        await runKernel(ctx, act, kernels.quantize_act_crossquant, {
          params: { cols, alpha },
          bindings: { x: uploadAct(x, [n, cols], act), col_max: upload(ctx, 'col_max', [cols], 'f32', colMax), ...tensors, zero_count: zeroCount },
          workgroups: [n],
        });
        const got = await readInt8(tensors);
        const summary = expectSameInt8(got, ref.crossQuant(x, n, cols, colMax, alpha), `crossquant α=${alpha}`);
        const [nonzero, zeroed] = new Uint32Array(await readTensor(ctx.device, zeroCount));
        expect({ nonzero, zeroed }).toEqual(ref.quantizationKernel(x, got));
        const perBlock = ref.quantizationKernel(x, ref.quantizeActQ8(x, n, cols));
        console.info(`${gpu.adapter} act=${act} crossquant α=${alpha}: kernel ${zeroed}/${nonzero} (per-block Q8: `
          + `${perBlock.zeroed}/${perBlock.nonzero}); ${summary}`);
      });
    });
  });

  it('CrossQuant codes with c^(1−α) folded into Q8_0 weights approximate W·x through matmul_dp4a_q8_0', async () => {
    const [rows, cols, n, alpha] = [33, 2080, 2, 0.5];
    const x = activations(5, n * cols);
    const colMax = new Float32Array(cols);
    x.forEach((v, e) => { colMax[e % cols] = Math.max(colMax[e % cols]!, Math.abs(v)); });
    const w = randomFloats(6, rows * cols, 1);
    const folded = quantize('Q8_0', ref.foldColumnScale(w, rows, cols, colMax, alpha));
    const parts: Record<string, GpuTensor> = {};
    for (const [name, words] of Object.entries(repack('Q8_0', folded, rows * cols).parts)) parts[name] = upload(ctx, name, [words.length], 'u32', words);
    const tensors = int8Tensors(n, cols);
    await runKernel(ctx, 'f32', kernels.quantize_act_crossquant, {
      params: { cols, alpha },
      bindings: { x: uploadAct(x, [n, cols], 'f32'), col_max: upload(ctx, 'col_max', [cols], 'f32', colMax), ...tensors, zero_count: empty(ctx, 'zc', [2], 'u32') },
      workgroups: [n],
    });
    const y = await matmulOnGpu('Q8_0', parts, { tensors, act: await readInt8(tensors) }, rows, cols, n, 'f32');
    const stats = compareArrays(y, ref.matmul(w, x, rows, cols, n));
    console.info(`${gpu.adapter} crossquant α=${alpha} + folded Q8_0 vs f32 W·x: NMSE ${stats.nmse.toExponential(2)}`);
    expect(stats.nmse).toBeLessThan(1e-3);
  });
});
