// Linear epilogues (ops.ts LinearEpilogue, shaders/lib/body/epilogue.wgsl) on every kernel path linear() can take:
// dequant GEMV (the _sg variant where the device has subgroups, and the fallback with subgroups hidden from the plan),
// dense f32/f16 GEMV, dequant GEMM, dp4a GEMV + GEMM and LUT GEMV. Each epilogue is checked two ways:
//   - against the CPU composition: the reference matmul (or the int8 twin on the GPU's own int8 activations), then
//     add / silu·mul / the q,k,v segment scatter in double;
//   - bit for bit against the unfused GPU path it replaces (store, then add_inplace / separate gate and up linears
//     and silu_mul / the stored y permuted on the CPU): the fused kernels keep every row's accumulation order. The
//     one exception is glu with f16 activations (see the test body).
// f16 activations run where the device has shader-f16 (lavapipe), on the subgroup paths at nTokens ≤ 5.
// Shapes: 70 rows (35 gate/up pairs, 2 GEMM workgroups; split 30 + 26 + 14), cols not a multiple of 64, nTokens 1,
// 5 and 33 (GEMV, one partial GEMM token tile, several tiles).
import { dequantize, f16ArrayToF32, f32ToF16, quantize, repack, type QuantTypeName } from '@qgpu/formats';
import { PipelineCache, PlanBuilder, type DeviceContext, type GpuTensor } from '@qgpu/gpu';
import * as ref from '@qgpu/reference';
import { compareArrays, empty, expectClose, randomFloats, readTensor, testGpu, TOLERANCES, upload, type Tolerance } from '@qgpu/testing';
import type { Prelude } from '@qgpu/shaders';
import { describe, expect, it } from 'vitest';
import { uploadWeight, type Weight } from './llama/weight.ts';
import { addInPlace, int8Input, linear, lutInput, siluMul, type Int8Activations, type KernelPath, type LinearEpilogue, type LutActivations } from './ops.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;

const ROWS = 70;
const SEGMENTS = [30, 26, 14] as const;
const EPILOGUES: readonly LinearEpilogue[] = [
  { kind: 'store' }, { kind: 'add' }, { kind: 'glu' }, { kind: 'split', segmentRows: SEGMENTS },
];

type StoredType = 'F32' | 'F16' | QuantTypeName;
interface PathCase {
  readonly name: string;
  readonly type: StoredType;
  readonly cols: number;
  readonly path: KernelPath;
  readonly tokens: readonly number[];
  /** Hide `subgroups` from the plan so linear() picks the workgroup-memory GEMV fallback. */
  readonly noSubgroups?: boolean;
}

const CASES: readonly PathCase[] = [
  { name: 'dequant q4_0 (GEMV, GEMM)', type: 'Q4_0', cols: 96, path: 'dequant', tokens: [1, 5, 33] },
  { name: 'dequant q4_0 GEMV without subgroups', type: 'Q4_0', cols: 96, path: 'dequant', tokens: [1, 5], noSubgroups: true },
  { name: 'dequant q4_k (GEMV, GEMM)', type: 'Q4_K', cols: 256, path: 'dequant', tokens: [1, 5] },
  { name: 'dense f32, cols 70 (GEMV per token)', type: 'F32', cols: 70, path: 'dequant', tokens: [1, 5] },
  { name: 'dense f32 (GEMM)', type: 'F32', cols: 96, path: 'dequant', tokens: [33] },
  { name: 'dense f16 (GEMV, GEMM)', type: 'F16', cols: 96, path: 'dequant', tokens: [1, 5] },
  { name: 'dp4a q8_0 (GEMV, GEMM)', type: 'Q8_0', cols: 96, path: 'dp4a', tokens: [1, 5, 33] },
  { name: 'dp4a q4_k GEMV without subgroups', type: 'Q4_K', cols: 256, path: 'dp4a', tokens: [1], noSubgroups: true },
  { name: 'lut (Q4_0 → 4 bits / 32)', type: 'Q4_0', cols: 96, path: 'lut', tokens: [1, 5] },
  { name: 'lut without subgroups', type: 'Q4_0', cols: 96, path: 'lut', tokens: [1], noSubgroups: true },
];

/** File bytes of a float matrix stored as `type` (rows are independent blocks, so any row subset re-encodes equally). */
function encode(type: StoredType, values: Float32Array): Uint8Array {
  if (type === 'F32') return new Uint8Array(values.buffer.slice(0));
  if (type === 'F16') return new Uint8Array(Uint16Array.from(values, f32ToF16).buffer);
  return quantize(type, values);
}

/** The weight as the reference sees it: dequantized (or rounded through f16), row-major [rows, cols]. */
function decoded(type: StoredType, bytes: Uint8Array, rows: number, cols: number): Float32Array {
  if (type === 'F32') return new Float32Array(bytes.buffer.slice(0));
  if (type === 'F16') return f16ArrayToF32(new Uint16Array(bytes.buffer.slice(0)));
  return dequantize(type, bytes, rows * cols);
}

const rowsOfMatrix = (m: Float32Array, cols: number, pick: (r: number) => boolean) => m.filter((_, e) => pick(Math.floor(e / cols)));

function upWeight(c: PathCase, bytes: Uint8Array, rows: number): Weight {
  return uploadWeight(ctx.device, 'w', c.type, bytes, rows, c.cols, c.path === 'lut' ? { bits: 4, group: 32 } : undefined);
}

async function readF32(t: GpuTensor, count: number): Promise<Float32Array> {
  return new Float32Array(await readTensor(ctx.device, t), 0, count);
}

/** Values as the activation type holds them (f16: rounded to 11 significant bits). */
const toAct = (values: Float32Array, act: Prelude) => (act === 'f16' ? f16ArrayToF32(Uint16Array.from(values, f32ToF16)) : values);
const uploadAct = (name: string, values: Float32Array, shape: number[], act: Prelude) =>
  act === 'f16' ? upload(ctx, name, shape, 'f16', Uint16Array.from(values, f32ToF16)) : upload(ctx, name, shape, 'f32', values);
async function readAct(t: GpuTensor, count: number): Promise<Float32Array> {
  if (t.dtype !== 'f16') return readF32(t, count);
  return f16ArrayToF32(new Uint16Array(await readTensor(ctx.device, t), 0, count));
}

const caches = new Map<string, PipelineCache>();

/**
 * Records what `record` dispatches into one plan with `act` activations on a device that has (or is told it lacks)
 * subgroups, and runs it.
 */
async function runPlan(noSubgroups: boolean, act: Prelude, record: (p: PlanBuilder) => void): Promise<void> {
  const key = `${noSubgroups}|${act}`;
  let cache = caches.get(key);
  if (!cache) {
    const planCtx: DeviceContext = noSubgroups ? { ...ctx, features: new Set([...ctx.features].filter((f) => f !== 'subgroups')) } : ctx;
    cache = new PipelineCache(planCtx, act);
    caches.set(key, cache);
  }
  const step = ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  ctx.device.queue.writeBuffer(step, 0, new Uint32Array([0, 1, 0, 0]));
  const p = new PlanBuilder(cache, step, 'test.epilogue');
  record(p);
  const plan = await p.build();
  const encoder = ctx.device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  plan.encode(pass);
  pass.end();
  ctx.device.queue.submit([encoder.finish()]);
  await ctx.device.queue.onSubmittedWorkDone();
  plan.destroy();
  step.destroy();
}

/** The prepared inputs of one linear call on `c`'s path (int8 codes or T-MAC tables built in the same plan). */
function inputsFor(p: PlanBuilder, c: PathCase, x: GpuTensor, weights: readonly Weight[], n: number, scratch: Scratch) {
  const x8 = int8Input(p, c.path, x, weights, scratch.x8, n);
  const xl = lutInput(p, c.path, x, weights, scratch.xl, n);
  return { x8, xl };
}

interface Scratch {
  readonly x8: Int8Activations;
  readonly xl: LutActivations;
}

function scratchFor(n: number, cols: number): Scratch {
  return {
    x8: { xq: empty(ctx, 'xq', [n, cols / 4], 'u32'), xd: empty(ctx, 'xd', [n, cols / 32], 'f32'), xs: empty(ctx, 'xs', [n, cols / 32], 'f32') },
    xl: { tables: empty(ctx, 'tables', [n, cols / 4, 8], 'f32'), sums: empty(ctx, 'sums', [n, cols / 32], 'f32') },
  };
}

/** y = W·x [n, ROWS] as the reference computes it for this path (the int8 twin on the GPU's int8 activations for dp4a). */
async function referenceY(c: PathCase, bytes: Uint8Array, x: Float32Array, n: number, scratch: Scratch): Promise<Float32Array> {
  if (c.path === 'dp4a') {
    const type = c.type as 'Q8_0' | 'Q4_0' | 'Q4_K';
    const act = {
      xq: new Uint32Array(await readTensor(ctx.device, scratch.x8.xq), 0, (n * c.cols) / 4),
      xd: await readF32(scratch.x8.xd, (n * c.cols) / 32),
      xs: await readF32(scratch.x8.xs, (n * c.cols) / 32),
    };
    return ref.matmulDp4a(type, repack(type, bytes, ROWS * c.cols).parts, act, ROWS, c.cols, n);
  }
  return ref.matmul(decoded(c.type, bytes, ROWS, c.cols), x, ROWS, c.cols, n);
}

/** What out holds after the epilogue, from y [n, ROWS] and out's previous contents (the residual for 'add'). */
function compose(e: LinearEpilogue, y: Float32Array, residual: Float32Array, n: number): Float32Array {
  switch (e.kind) {
    case 'store': return y;
    case 'add': return ref.add(residual, y);
    case 'glu': {
      const half = ROWS / 2;
      const gate = Float32Array.from({ length: n * half }, (_, k) => y[Math.floor(k / half) * ROWS + 2 * (k % half)]!);
      const up = Float32Array.from({ length: n * half }, (_, k) => y[Math.floor(k / half) * ROWS + 2 * (k % half) + 1]!);
      return ref.siluMul(gate, up);
    }
    case 'split': {
      const [a, b] = e.segmentRows;
      const out = new Float32Array(n * ROWS);
      for (let t = 0; t < n; t++) {
        for (let r = 0; r < ROWS; r++) {
          const i = r < a ? t * a + r : r < a + b ? n * a + t * b + (r - a) : n * (a + b) + t * (ROWS - a - b) + (r - a - b);
          out[i] = y[t * ROWS + r]!;
        }
      }
      return out;
    }
  }
}

const outCols = (e: LinearEpilogue) => (e.kind === 'glu' ? ROWS / 2 : ROWS);

function tolerance(c: PathCase, act: Prelude): Tolerance {
  if (act === 'f16') return TOLERANCES.f16Activations;
  if (c.path === 'dp4a') return TOLERANCES.int8DotVsTwin;
  return c.type === 'F32' || c.type === 'F16' ? TOLERANCES.f32Kernel : TOLERANCES.quantVsDequantized;
}

/** f16 activations: the subgroup paths at nTokens ≤ 5 (the epilogue's act rounding is what they add over f32). */
const F16_CASES = CASES.filter((c) => !c.noSubgroups).map((c) => ({ ...c, tokens: c.tokens.filter((n) => n <= 5) })).filter((c) => c.tokens.length > 0);

describe.skipIf(!gpu.ctx)(`linear epilogues on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  const noF16 = !gpu.ctx?.hasF16;
  describe.each([['f32', CASES], ['f16', F16_CASES]] as const)('act=%s', (act, cases) => {
    describe.skipIf(act === 'f16' && noF16)(act === 'f16' && noF16 ? 'skipped: no shader-f16' : 'paths', () => {
      describe.each(cases)('$name', (c) => {
        describe.each(c.tokens.map((n) => [n]))('nTokens=%i', (n) => {
          it.each(EPILOGUES.map((e) => [e.kind, e] as const))('%s matches the CPU composition and the unfused GPU path bit for bit', async (_, e) => {
            const seed = c.cols * 7 + n;
            const wValues = randomFloats(seed, ROWS * c.cols, 1);
            const bytes = encode(c.type, wValues);
            const w = upWeight(c, bytes, ROWS);
            const xValues = toAct(randomFloats(seed + 1, n * c.cols, 1), act);
            const x = uploadAct('x', xValues, [n, c.cols], act);
            const residual = toAct(randomFloats(seed + 2, n * ROWS, 2), act);
            const count = n * outCols(e);
            const out = uploadAct('out', e.kind === 'add' ? residual : new Float32Array(n * ROWS), [n, ROWS], act);
            const scratch = scratchFor(n, c.cols);
            await runPlan(c.noSubgroups ?? false, act, (p) => {
              const { x8, xl } = inputsFor(p, c, x, [w], n, scratch);
              linear(p, w, x, out, n, 'w', x8, xl, e);
            });
            const fused = await readAct(out, count);
            const expected = compose(e, await referenceY(c, bytes, xValues, n, scratch), residual, n);
            const stats = expectClose(fused, expected, tolerance(c, act), `${c.name} act=${act} ${e.kind} n=${n}`);

            // The unfused path on the same bytes: gate and up as two matrices of the even and odd rows for glu.
            const unfusedOut = uploadAct('unfused', e.kind === 'add' ? residual : new Float32Array(n * ROWS), [n, ROWS], act);
            const y = empty(ctx, 'y', [n, ROWS], act);
            const half = ROWS / 2;
            const gateW = e.kind === 'glu' ? upWeight(c, encode(c.type, rowsOfMatrix(wValues, c.cols, (r) => r % 2 === 0)), half) : w;
            const upW = e.kind === 'glu' ? upWeight(c, encode(c.type, rowsOfMatrix(wValues, c.cols, (r) => r % 2 === 1)), half) : w;
            const up = empty(ctx, 'up', [n, half], act);
            await runPlan(c.noSubgroups ?? false, act, (p) => {
              const readers = e.kind === 'glu' ? [gateW, upW] : [w];
              const { x8, xl } = inputsFor(p, c, x, readers, n, scratch);
              if (e.kind === 'glu') {
                linear(p, gateW, x, unfusedOut, n, 'gate', x8, xl);
                linear(p, upW, x, up, n, 'up', x8, xl);
                siluMul(p, unfusedOut, up, n * half);
                return;
              }
              linear(p, w, x, e.kind === 'add' ? y : unfusedOut, n, 'w', x8, xl);
              if (e.kind === 'add') addInPlace(p, unfusedOut, y, n * ROWS);
            });
            let unfused = await readAct(unfusedOut, count);
            if (e.kind === 'split') unfused = compose(e, unfused, residual, n);
            if (act === 'f16' && e.kind === 'glu') {
              // The unfused gate is stored as f16 before silu_mul reads it back; in the fused kernel the same
              // f32 → f16 → f32 round trip sits in registers, and lavapipe's compiler may drop it (measured: up to
              // 1 f16 ulp apart), so f16 glu is held to the f16 tolerance instead of bit identity.
              const apart = expectClose(fused, unfused, TOLERANCES.f16Activations, `${c.name} act=${act} glu n=${n}: fused vs unfused GPU`);
              console.info(`${gpu.adapter} act=f16 ${c.name} glu n=${n}: fused vs unfused max |Δ| ${apart.maxAbsError} at ${unfused[apart.maxAbsIndex]}, `
                + `max rel ${apart.maxRelError.toExponential(2)}`);
            } else {
              expect(compareArrays(fused, unfused).maxAbsError, `${c.name} act=${act} ${e.kind} n=${n}: fused vs unfused GPU`).toBe(0);
            }
            console.info(`${gpu.adapter} act=${act} ${c.name} ${e.kind} n=${n}: vs CPU max |Δ| ${stats.maxAbsError.toExponential(2)} NMSE ${stats.nmse.toExponential(2)}`);
          });
        });
      });
    });
  });

  it('rejects an odd row count for glu and segments that do not partition the rows', async () => {
    const w = uploadWeight(ctx.device, 'w', 'F32', encode('F32', randomFloats(1, 3 * 32, 1)), 3, 32);
    const x = upload(ctx, 'x', [1, 32], 'f32', randomFloats(2, 32, 1));
    const out = empty(ctx, 'out', [1, 3], 'f32');
    await runPlan(false, 'f32', (p) => {
      expect(() => linear(p, w, x, out, 1, 'w', undefined, undefined, { kind: 'glu' })).toThrow(/odd row count/);
      expect(() => linear(p, w, x, out, 1, 'w', undefined, undefined, { kind: 'split', segmentRows: [1, 1, 2] })).toThrow(/do not partition/);
      expect(() => linear(p, w, x, empty(ctx, 'small', [1, 2], 'f32'), 1, 'w', undefined, undefined, { kind: 'add' })).toThrow(/smaller than/);
    });
  });
});
