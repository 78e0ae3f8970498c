// The position-encoding kernels against independent CPU twins (@qgpu/reference rope.ts): the rope kernel (both pair layouts) fed
// every encoding's table (RoPE, linear PI, YaRN, 3D-RPE Eq. 4) with partial rotary dims; Eq. 4 scores of GPU-rotated
// vectors against Eq. 5 in complex arithmetic; attention_3drpe_chunked against the released code's attention.
import { f16ArrayToF32, f32ToF16 } from '@qgpu/formats';
import type { DeviceContext, GpuTensor } from '@qgpu/gpu';
import * as ref from '@qgpu/reference';
import * as kernels from '@qgpu/shaders';
import type { Prelude } from '@qgpu/shaders';
import { empty, expectClose, randomFloats, readTensor, runKernel, testGpu, TOLERANCES, upload } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import {
  chunkedQueryTables, linearInterpolationTable, ropeTable, threeDRpeEq4Table, type RopeConfig, type RopeStyle,
} from './llama/rope.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const ACTS: Prelude[] = ['f32', 'f16'];
const noF16 = !gpu.ctx?.hasF16;

const roundAct = (values: Float32Array, act: Prelude) => (act === 'f16' ? f16ArrayToF32(Uint16Array.from(values, f32ToF16)) : values);
const uploadAct = (label: string, shape: number[], values: Float32Array, act: Prelude): GpuTensor =>
  act === 'f16' ? upload(ctx, label, shape, 'f16', Uint16Array.from(values, f32ToF16)) : upload(ctx, label, shape, 'f32', values);
const readAct = async (t: GpuTensor, count: number): Promise<Float32Array> => {
  const bytes = await readTensor(ctx.device, t);
  return t.dtype === 'f16' ? f16ArrayToF32(new Uint16Array(bytes, 0, count)) : new Float32Array(bytes, 0, count);
};
const tolFor = (act: Prelude, kind: 'f32Elementwise' | 'f32Kernel') => (act === 'f16' ? TOLERANCES.f16Activations : TOLERANCES[kind]);

/** Runs the rope kernel of `rope.style` on x [n, heads·headDim] at positions pos… with `table`; returns x rotated. */
async function rotateOnGpu(act: Prelude, rope: RopeConfig, table: Float32Array, maxPos: number, x: Float32Array, heads: number, headDim: number, n: number, pos: number) {
  const xt = uploadAct('x', [n, heads * headDim], x, act);
  await runKernel(ctx, act, kernels.rope, {
    overrides: { NEOX: rope.style === 'neox' ? 1 : 0 },
    params: { n_heads: heads, head_dim: headDim, rope_dim: rope.dim, max_pos: maxPos },
    bindings: { cos_sin: upload(ctx, 'cs', [maxPos, rope.dim / 2, 2], 'f32', table), x: xt },
    workgroups: [Math.ceil((heads * rope.dim) / 2 / 64), n],
    step: { pos, nTokens: n },
  });
  return readAct(xt, x.length);
}

const yarn = (style: RopeStyle, dim: number): RopeConfig => ({
  style, dim, freqBase: 10000, scaling: { type: 'yarn', factor: 4, originalContext: 64, attnFactor: 1, betaFast: 32, betaSlow: 1, extFactor: 1 },
});

describe.skipIf(!gpu.ctx)(`position-encoding kernels on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  describe.each(ACTS)('act=%s', (act) => { describe.skipIf(act === 'f16' && noF16)(act === 'f16' && noF16 ? 'skipped: no shader-f16' : 'variants', () => {
    // [style, heads, headDim, ropeDim, tokens, start position]
    const shapes = [['norm', 3, 10, 6, 3, 5], ['neox', 3, 10, 6, 3, 5], ['neox', 1, 64, 64, 2, 0], ['neox', 5, 12, 8, 4, 90], ['norm', 4, 16, 16, 7, 250]] as const;

    it.each(shapes)('%s heads=%i head_dim=%i rope_dim=%i tokens=%i pos=%i: RoPE, linear PI and YaRN tables vs ropeRotate', async (style, heads, headDim, ropeDim, n, pos) => {
      const maxPos = pos + n + 3;
      const x = roundAct(randomFloats(heads * 7 + pos, n * heads * headDim, 1), act);
      const positions = Array.from({ length: n }, (_, t) => pos + t);
      const plain: RopeConfig = { style, dim: ropeDim, freqBase: 10000, scaling: { type: 'none' } };
      const cases: [string, RopeConfig, Float32Array, ref.RopeSpec, number[]][] = [
        ['rope', plain, ropeTable(plain, maxPos), plain, positions],
        ['linear ×3', plain, linearInterpolationTable(plain, maxPos, 3), plain, positions.map((p) => p / 3)],
        ['yarn ×4', yarn(style, ropeDim), ropeTable(yarn(style, ropeDim), maxPos), yarn(style, ropeDim), positions],
      ];
      for (const [name, rope, table, spec, refPositions] of cases) {
        const got = await rotateOnGpu(act, rope, table, maxPos, x, heads, headDim, n, pos);
        expectClose(got, ref.ropeRotate(x, n, heads, headDim, spec, refPositions), tolFor(act, 'f32Elementwise'), name);
      }
    });

    it.each(shapes)('%s heads=%i head_dim=%i rope_dim=%i tokens=%i pos=%i: 3D-RPE Eq. 4 table vs Eq. 4 in complex arithmetic', async (style, heads, headDim, ropeDim, n, pos) => {
      const chunk = 4;
      const maxPos = pos + n + 3;
      const rope: RopeConfig = { style, dim: ropeDim, freqBase: 10000, scaling: { type: 'none' } };
      const x = roundAct(randomFloats(heads * 11 + pos, n * heads * headDim, 1), act);
      const got = await rotateOnGpu(act, rope, threeDRpeEq4Table(rope, maxPos, chunk, 10000), maxPos, x, heads, headDim, n, pos);
      const expected = new Float32Array(x.length);
      for (let t = 0; t < n; t++) {
        for (let h = 0; h < heads; h++) {
          const at = (t * heads + h) * headDim;
          expected.set(ref.threeDRpeEq4(x.subarray(at, at + headDim), rope, pos + t, chunk, 10000), at);
        }
      }
      expectClose(got, expected, tolFor(act, 'f32Elementwise'), 'eq4');
    });
  }); });

  it.each(['norm', 'neox'] as const)('%s: scores q·k of GPU-rotated 3D-RPE vectors equal Eq. 5 for queries and keys across 4 chunks', async (style) => {
    const [headDim, ropeDim, chunk, n] = [12, 8, 5, 20];
    const rope: RopeConfig = { style, dim: ropeDim, freqBase: 10000, scaling: { type: 'none' } };
    const table = threeDRpeEq4Table(rope, n, chunk, 10000);
    const q = randomFloats(31, n * headDim, 1);
    const k = randomFloats(32, n * headDim, 1);
    const qr = await rotateOnGpu('f32', rope, table, n, q, 1, headDim, n, 0);
    const kr = await rotateOnGpu('f32', rope, table, n, k, 1, headDim, n, 0);
    const got = new Float32Array(n * n);
    const expected = new Float32Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += qr[i * headDim + d]! * kr[j * headDim + d]!;
        got[i * n + j] = dot;
        expected[i * n + j] = ref.threeDRpeScoreEq5(q.subarray(i * headDim, (i + 1) * headDim), k.subarray(j * headDim, (j + 1) * headDim), rope, i, j, chunk, 10000);
      }
    }
    expectClose(got, expected, TOLERANCES.f32Kernel, 'Eq. 5 scores');
  });

  // [style, heads, kvHeads, headDim, ropeDim, chunkSize, localWindow, tokens, start position, seq_len]
  const chunkedCases = [
    ['norm', 2, 1, 8, 8, 6, 2, 1, 0, 40],
    ['norm', 4, 2, 8, 8, 6, 2, 9, 17, 40],
    ['neox', 8, 4, 16, 12, 10, 3, 1, 60, 80],
    ['neox', 3, 3, 64, 64, 12, 4, 5, 33, 50],
    ['norm', 6, 2, 128, 96, 33, 5, 3, 130, 160],
  ] as const;
  it.each(chunkedCases)('attention_3drpe_chunked %s heads=%i kv=%i head_dim=%i rope_dim=%i chunk=%i window=%i tokens=%i pos=%i vs the twin',
    async (style, heads, kvHeads, headDim, ropeDim, chunkSize, localWindow, n, pos, seqLen) => {
      const rope: RopeConfig = { style, dim: ropeDim, freqBase: 10000, scaling: { type: 'none' } };
      const geometry = { chunkSize, chunkLen: chunkSize - localWindow, phaseBase: 10000 };
      const kvDim = kvHeads * headDim;
      const positions = pos + n;
      // Keys rotated by the twin at p mod chunk_len, as rope_* with chunkedKeyTable stores them (checked above).
      const kRaw = randomFloats(heads + headDim, positions * kvDim, 1);
      const kCache = new Float32Array(seqLen * kvDim);
      kCache.set(ref.ropeRotate(kRaw, positions, kvHeads, headDim, rope, Array.from({ length: positions }, (_, p) => p % geometry.chunkLen)));
      const vCache = randomFloats(heads * 3 + 1, seqLen * kvDim, 1);
      const q = randomFloats(n + ropeDim, n * heads * headDim, 1);
      const out = empty(ctx, 'out', [n, heads * headDim], 'f32');
      await runKernel(ctx, 'f32', kernels.attention_3drpe_chunked, {
        params: {
          n_heads: heads, n_kv_heads: kvHeads, head_dim: headDim, rope_dim: ropeDim, seq_len: seqLen,
          chunk_len: geometry.chunkLen, neox: style === 'neox' ? 1 : 0, scale: 1 / Math.sqrt(headDim),
        },
        bindings: {
          q: upload(ctx, 'q', [n, heads * headDim], 'f32', q),
          q_tables: upload(ctx, 'qt', [3, seqLen, ropeDim / 2, 2], 'f32', chunkedQueryTables(rope, seqLen, geometry)),
          k_cache: upload(ctx, 'k', [seqLen, kvDim], 'f32', kCache),
          v_cache: upload(ctx, 'v', [seqLen, kvDim], 'f32', vCache),
          scores: empty(ctx, 'scores', [n, heads, seqLen], 'f32'),
          out,
        },
        workgroups: [heads, n],
        step: { pos, nTokens: n },
      });
      const expected = ref.attention3dRpeChunked(q, kCache, vCache, n, pos, heads, kvHeads, headDim, rope, { chunkSize, localWindow, phaseBase: 10000 });
      const stats = expectClose(await readAct(out, n * heads * headDim), expected, TOLERANCES.f32Kernel, 'chunked attention');
      console.info(`${gpu.adapter} chunked attention max |Δ| ${stats.maxAbsError.toExponential(2)}`);
    });
});
