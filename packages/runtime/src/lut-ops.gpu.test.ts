// The LUT (T-MAC) kernels against their CPU twins in @qgpu/reference/lut.ts: lut_build table by table, and lut_gemv
// fed the GPU's own tables, then against a plain matmul on the dequantized LUT weights. Rows are not multiples of
// ROWS_PER_WG, and cols cross the kernel's 1024-column table slab on a non-multiple of it.
import { dequantize, dequantizeLut, f16ArrayToF32, f32ToF16, lutFromTensor, quantize, quantizeLut, type LutBits, type LutGroup } from '@qgpu/formats';
import { PipelineCache, PlanBuilder, type DeviceContext, type GpuTensor } from '@qgpu/gpu';
import * as ref from '@qgpu/reference';
import * as kernels from '@qgpu/shaders';
import type { Prelude } from '@qgpu/shaders';
import { compareArrays, empty, expectClose, randomFloats, readTensor, runKernel, testGpu, TOLERANCES, upload } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { uploadWeight } from './llama/weight.ts';
import { linear, lutInput } from './ops.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const noF16 = !gpu.ctx?.hasF16;

/** Uniform values with every 37th a 10× outlier, so group ranges (and table magnitudes) differ. */
function spread(seed: number, count: number): Float32Array {
  const x = randomFloats(seed, count, 1);
  for (let i = 5; i < count; i += 37) x[i] = x[i]! * 10;
  return x;
}

const toAct = (values: Float32Array, act: Prelude) => (act === 'f16' ? f16ArrayToF32(Uint16Array.from(values, f32ToF16)) : values);
const uploadAct = (values: Float32Array, shape: number[], act: Prelude) =>
  act === 'f16' ? upload(ctx, 'x', shape, 'f16', Uint16Array.from(values, f32ToF16)) : upload(ctx, 'x', shape, 'f32', values);
const readF32 = async (t: GpuTensor) => new Float32Array(await readTensor(ctx.device, t));
async function readAct(t: GpuTensor, count: number): Promise<Float32Array> {
  const bytes = await readTensor(ctx.device, t);
  return t.dtype === 'f16' ? f16ArrayToF32(new Uint16Array(bytes, 0, count)) : new Float32Array(bytes, 0, count);
}

async function buildOnGpu(x: Float32Array, n: number, cols: number, act: Prelude) {
  const tables = empty(ctx, 'tables', [n, cols / 4, 8], 'f32');
  const sums = empty(ctx, 'sums', [n, cols / 32], 'f32');
  await runKernel(ctx, act, kernels.lut_build, {
    params: { cols },
    bindings: { x: uploadAct(x, [n, cols], act), tables, sums },
    workgroups: [Math.ceil(cols / 4 / kernels.lut_build.overrides.WG_SIZE), 1, n],
  });
  return { tensors: { tables, sums }, host: { tables: await readF32(tables), sums: await readF32(sums) } };
}

async function buildI8OnGpu(x: Float32Array, n: number, cols: number, act: Prelude) {
  const tensors = {
    qtables: empty(ctx, 'qtables', [n, cols / 4, 2], 'u32'),
    scales: empty(ctx, 'tscales', [n, cols / 32], 'f32'),
    sums: empty(ctx, 'sums', [n, cols / 32], 'f32'),
  };
  await runKernel(ctx, act, kernels.lut_build_i8, {
    params: { cols },
    bindings: { x: uploadAct(x, [n, cols], act), ...tensors },
    workgroups: [Math.ceil(cols / 32 / kernels.lut_build_i8.overrides.WG_SIZE), 1, n],
  });
  const host = {
    qtables: new Uint32Array(await readTensor(ctx.device, tensors.qtables)),
    scales: await readF32(tensors.scales),
    sums: await readF32(tensors.sums),
  };
  return { tensors, host };
}

/** Code widths under test: T-MAC's 1..4 and 8 (Q8_0's exact width, the most planes and largest integer sums). */
const BITS: LutBits[] = [1, 2, 3, 4, 8];

/** [rows, cols, tokens] per group size: cols = group, 3·group, > 1024 (crossing the slab), > 2048. */
const SHAPES: Record<LutGroup, [number, number, number][]> = {
  32: [[1, 32, 1], [3, 96, 2], [33, 1120, 3], [257, 2080, 1]],
  64: [[1, 64, 1], [3, 192, 2], [33, 1088, 3], [257, 2112, 1]],
};

describe.skipIf(!gpu.ctx)(`LUT kernels on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  describe.each(['f32', 'f16'] as const)('act=%s', (act) => {
    describe.skipIf(act === 'f16' && noF16)(act === 'f16' && noF16 ? 'skipped: no shader-f16' : 'variants', () => {
      it.each([[1, 32], [2, 96], [3, 2080]])('lut_build tokens=%i cols=%i matches lutBuild', async (n, cols) => {
        const x = toAct(spread(n * 13 + cols, n * cols), act);
        const { host } = await buildOnGpu(x, n, cols, act);
        const want = ref.lutBuild(x, cols);
        expectClose(host.tables, want.tables, TOLERANCES.f32Elementwise, 'lut_build tables');
        expectClose(host.sums, want.sums, TOLERANCES.f32Elementwise, 'lut_build sums');
      });

      describe.each(BITS)('lut_gemv bits=%i', (bits) => {
        describe.each([32, 64] as LutGroup[])('group=%i', (group) => {
          it.each(SHAPES[group])('rows=%i cols=%i tokens=%i matches lutGemv and W·x', async (rows, cols, n) => {
            const w = quantizeLut(spread(rows * 7 + cols + bits, rows * cols), rows, cols, bits, group);
            const x = toAct(spread(n + cols * 3, n * cols), act);
            const built = await buildOnGpu(x, n, cols, act);
            const out = empty(ctx, 'out', [n, rows], act);
            const rowsPerWg = kernels.lut_gemv.overrides.ROWS_PER_WG;
            await runKernel(ctx, act, kernels.lut_gemv, {
              params: { rows, cols, group },
              bindings: {
                ...built.tensors,
                planes: upload(ctx, 'planes', [w.planes.length], 'u32', w.planes),
                scales: upload(ctx, 'scales', [w.scales.length], 'f32', w.scales),
                zeros: upload(ctx, 'zeros', [w.zeros.length], 'f32', w.zeros),
                out,
              },
              overrides: { BITS: bits },
              workgroups: [Math.ceil(rows / rowsPerWg), 1, n],
            });
            const y = await readAct(out, n * rows);
            const twin = toAct(ref.lutGemv(w.planes, w.scales, w.zeros, built.host, rows, cols, bits, group), act);
            const vsTwin = expectClose(y, twin, act === 'f16' ? TOLERANCES.f16Activations : TOLERANCES.lutVsTwin, 'lut_gemv vs twin');
            const plain = toAct(ref.matmul(dequantizeLut(w), x, rows, cols, n), act);
            const vsPlain = expectClose(y, plain, act === 'f16' ? TOLERANCES.f16Activations : TOLERANCES.quantVsDequantized, 'lut_gemv vs W·x');
            console.info(`${gpu.adapter} act=${act} lut_gemv b=${bits} g=${group} ${rows}×${cols}×${n}: vs twin max |Δ| `
              + `${vsTwin.maxAbsError.toExponential(2)} NMSE ${vsTwin.nmse.toExponential(2)}; vs W·x NMSE ${vsPlain.nmse.toExponential(2)}`);
          });
        });
      });
    });
  });

  describe.each(['f32', 'f16'] as const)('int8 tables, act=%s', (act) => {
    describe.skipIf(act === 'f16' && noF16)(act === 'f16' && noF16 ? 'skipped: no shader-f16' : 'variants', () => {
      it.each([[1, 32], [2, 96], [3, 2080]])('lut_build_i8 tokens=%i cols=%i matches lutQuantizeTables(lutBuild)', async (n, cols) => {
        const x = toAct(spread(n * 17 + cols, n * cols), act);
        const got = await buildI8OnGpu(x, n, cols, act);
        const want = ref.lutQuantizeTables(ref.lutBuild(x, cols));
        const codes = (q: Uint32Array) => Int32Array.from({ length: q.length * 4 }, (_, e) => ref.lutEntryI8(q, e >> 3, e & 7));
        expectClose(codes(got.host.qtables), codes(want.qtables), TOLERANCES.int8Codes, 'lut_build_i8 codes');
        expectClose(got.host.scales, want.scales, TOLERANCES.int8Scales, 'lut_build_i8 scales');
        expectClose(got.host.sums, want.sums, TOLERANCES.f32Elementwise, 'lut_build_i8 sums');
      });

      it.each(BITS.flatMap((bits) => ([32, 64] as LutGroup[]).flatMap((group) => SHAPES[group].map((s) => [bits, group, ...s] as const))))(
        'lut_gemv_i8 bits=%i group=%i rows=%i cols=%i tokens=%i matches lutGemvI8', async (bits, group, rows, cols, n) => {
          const w = quantizeLut(spread(rows * 5 + cols + bits, rows * cols), rows, cols, bits, group);
          const x = toAct(spread(n + cols * 7, n * cols), act);
          const built = await buildI8OnGpu(x, n, cols, act);
          const out = empty(ctx, 'out', [n, rows], act);
          await runKernel(ctx, act, kernels.lut_gemv_i8, {
            params: { rows, cols, group },
            bindings: {
              qtables: built.tensors.qtables, tscales: built.tensors.scales, sums: built.tensors.sums,
              planes: upload(ctx, 'planes', [w.planes.length], 'u32', w.planes),
              scales: upload(ctx, 'scales', [w.scales.length], 'f32', w.scales),
              zeros: upload(ctx, 'zeros', [w.zeros.length], 'f32', w.zeros),
              out,
            },
            overrides: { BITS: bits },
            workgroups: [Math.ceil(rows / kernels.lut_gemv_i8.overrides.ROWS_PER_WG), 1, n],
          });
          const y = await readAct(out, n * rows);
          const twin = toAct(ref.lutGemvI8(w.planes, w.scales, w.zeros, built.host, rows, cols, bits, group), act);
          const vsTwin = expectClose(y, twin, act === 'f16' ? TOLERANCES.f16Activations : TOLERANCES.lutVsTwin, 'lut_gemv_i8 vs twin');
          // What the int8 tables cost against the float product on the same weights. Each looked-up entry is off by
          // at most d_b/2 (its block's table scale), a plane sums 8 lookups per block, planes weigh Σ 2^i = 2^b − 1,
          // and the group multiplies by s/2: |Δy| ≤ Σ_γ |s|/2 · Σ_{b∈γ} 4·d_b·(2^b − 1), plus f32/f16 output slack.
          const exact = ref.matmul(dequantizeLut(w), x, rows, cols, n);
          const vsFloat = compareArrays(y, exact);
          for (let t = 0; t < n; t++) {
            for (let r = 0; r < rows; r++) {
              let bound = 0;
              for (let b = 0; b < cols / 32; b++) bound += Math.abs(w.scales[r * (cols / group) + Math.floor((32 * b) / group)]!) / 2 * 4 * built.host.scales[t * (cols / 32) + b]! * ((1 << bits) - 1);
              const slack = (act === 'f16' ? 1e-2 : 1e-4) * (Math.abs(exact[t * rows + r]!) + 1);
              expect(Math.abs(y[t * rows + r]! - exact[t * rows + r]!)).toBeLessThanOrEqual(bound + slack);
            }
          }
          console.info(`${gpu.adapter} act=${act} lut_gemv_i8 b=${bits} g=${group} ${rows}×${cols}×${n}: vs twin max |Δ| `
            + `${vsTwin.maxAbsError.toExponential(2)} NMSE ${vsTwin.nmse.toExponential(2)}; vs f32 W·x NMSE ${vsFloat.nmse.toExponential(2)}`);
        });
    });
  });

  it.each([
    ['Q4_0 → 4 bits / 32 (exact)', 'Q4_0', 4, 32],
    ['Q8_0 → 8 bits / 32 (exact)', 'Q8_0', 8, 32],
    ['F32 → 2 bits / 64 (RTN)', 'F32', 2, 64],
  ] as const)('ops: lutInput + linear on a %s weight over a 3-token chunk equal W·x on its decoded weights', async (_, type, bits, group) => {
    const [rows, cols, n] = [33, 1088, 3];
    const src = spread(77, rows * cols);
    const bytes = type === 'F32' ? new Uint8Array(src.buffer) : quantize(type, src);
    const w = uploadWeight(ctx.device, 'w', type, bytes, rows, cols, { bits, group });
    expect(w.format).toBe('lut');
    const x = spread(78, n * cols);
    const out = empty(ctx, 'out', [n, rows], 'f32');
    const scratch = { tables: empty(ctx, 'tables', [n, cols / 4, 8], 'f32'), sums: empty(ctx, 'sums', [n, cols / 32], 'f32') };
    const step = ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    ctx.device.queue.writeBuffer(step, 0, new Uint32Array([0, n, 0, 0]));
    const p = new PlanBuilder(new PipelineCache(ctx, 'f32'), step, 'test.lut');
    const xl = lutInput(p, 'lut', upload(ctx, 'x', [n, cols], 'f32', x), [w], scratch, n);
    linear(p, w, upload(ctx, 'x', [n, cols], 'f32', x), out, n, 'w', undefined, xl);
    const plan = await p.build();
    const encoder = ctx.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    plan.encode(pass);
    pass.end();
    ctx.device.queue.submit([encoder.finish()]);
    const y = await readF32(out);
    const decoded = type !== 'F32' ? dequantize(type, bytes, rows * cols) : dequantizeLut(lutFromTensor(type, bytes, rows, cols, bits, group));
    const stats = expectClose(y, ref.matmul(decoded, x, rows, cols, n), TOLERANCES.quantVsDequantized, `ops.linear lut ${type}`);
    console.info(`${gpu.adapter} ops.linear lut ${type} b=${bits} g=${group} ${rows}×${cols}×${n}: NMSE ${stats.nmse.toExponential(2)}`);
    plan.destroy();
    step.destroy();
  });
});
