// The position-encoding tables (llama/rope.ts) against independent CPU derivations (@qgpu/reference rope.ts): RoPE in
// both pair styles with partial rotary dims, linear interpolation and YaRN; 3D-RPE Eq. 4 against the complex-number
// form of Eq. 4 and its scores against Eq. 5; the released code's key/query tables; metadata parsing.
import type { GgufFile, GgufValue } from '@qgpu/formats';
import {
  chunkedQueryAngle, interpolatedChunkSize, ropePairFrequency, ropeRotate, rotatePairs, threeDRpeEq4, threeDRpeScoreEq5, type RopeSpec,
} from '@qgpu/reference';
import { expectClose, randomFloats, TOLERANCES } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import {
  chunkedKeyTable, chunkedQueryTables, linearInterpolationTable, positionTables, ropeConfigFromGguf, ropeTable, theorem1ChunkSize,
  threeDRpeEq4Table, type RopeConfig,
} from './rope.ts';

const YARN: RopeConfig = {
  style: 'neox', dim: 16, freqBase: 10000,
  scaling: { type: 'yarn', factor: 4, originalContext: 512, attnFactor: 1, betaFast: 32, betaSlow: 1, extFactor: 1 },
};
const CONFIGS: RopeConfig[] = [
  { style: 'norm', dim: 8, freqBase: 10000, scaling: { type: 'none' } },
  { style: 'neox', dim: 6, freqBase: 500000, scaling: { type: 'none' } },
  { style: 'norm', dim: 8, freqBase: 10000, scaling: { type: 'linear', factor: 2.5 } },
  YARN,
];

/** Rotates x ([n, heads·headDim]) at `positions` with rows of a table, as the rope kernels do (in double here). */
function rotateWithTable(x: Float32Array, n: number, heads: number, headDim: number, rope: RopeConfig, table: Float32Array, positions: number[]): Float32Array {
  const half = rope.dim / 2;
  return rotatePairs(x, n, heads, headDim, rope.dim, rope.style, (t, i) => Math.atan2(table[(positions[t]! * half + i) * 2 + 1]!, table[(positions[t]! * half + i) * 2]!),
    (i) => Math.hypot(table[(positions[0]! * half + i) * 2]!, table[(positions[0]! * half + i) * 2 + 1]!));
}

const randomHeads = (n: number, seed: number) => randomFloats(seed, n);

describe('RoPE tables', () => {
  it.each(CONFIGS.map((c) => [`${c.style} dim ${c.dim} base ${c.freqBase} ${c.scaling.type}`, c] as const))(
    '%s: rows equal the reference frequencies at every position', (_name, rope) => {
      const seqLen = 700;
      const table = ropeTable(rope, seqLen);
      const expected = new Float32Array(table.length);
      for (let p = 0; p < seqLen; p++) {
        for (let i = 0; i < rope.dim / 2; i++) {
          const { omega, mscale } = ropePairFrequency(rope, i);
          expected[(p * rope.dim / 2 + i) * 2] = Math.cos(p * omega) * mscale;
          expected[(p * rope.dim / 2 + i) * 2 + 1] = Math.sin(p * omega) * mscale;
        }
      }
      expectClose(table, expected, TOLERANCES.ropeTableVsReference, 'table');
    });

  it('YaRN keeps the fastest pairs unscaled, interpolates the slowest by the factor and scales cos/sin by 1 + 0.1·ln factor', () => {
    const table = ropeTable(YARN, 2);
    const half = YARN.dim / 2;
    const mscale = 1 + 0.1 * Math.log(4);
    // Pair 0 (θ = 1 rad per position) turns ≈ 81 times over 512 positions (> β_fast = 32): pure extrapolation.
    expect(Math.atan2(table[half * 2 + 1]!, table[half * 2]!)).toBeCloseTo(1, 6);
    // The last pair turns < β_slow = 1 time: pure interpolation, θ / 4.
    const last = half - 1;
    expect(Math.atan2(table[(half + last) * 2 + 1]!, table[(half + last) * 2]!)).toBeCloseTo(Math.pow(10000, -2 * last / 16) / 4, 9);
    expect(Math.hypot(table[half * 2]!, table[half * 2 + 1]!)).toBeCloseTo(mscale, 6);
  });

  it('linear interpolation by f equals RoPE at position p/f (and the scaled model config gives the same table)', () => {
    const rope = CONFIGS[0]!;
    const pi = linearInterpolationTable(rope, 64, 4);
    expectClose(pi, ropeTable({ ...rope, scaling: { type: 'linear', factor: 4 } }, 64), TOLERANCES.ropeTableVsReference, 'linear');
    const x = randomHeads(3 * 2 * 10, 1);
    const positions = [0, 5, 63];
    expectClose(rotateWithTable(x, 3, 2, 10, rope, pi, positions), ropeRotate(x, 3, 2, 10, rope, positions.map((p) => p / 4)), TOLERANCES.f32Elementwise, 'PI');
  });
});

describe('3D-RPE Eq. 4 table', () => {
  const rope: RopeSpec = { style: 'norm', dim: 8, freqBase: 10000, scaling: { type: 'none' } };
  const headDim = 10; // 2 pass-through dims beyond rope.dim
  const chunk = 16;
  const seqLen = 80;
  const table = threeDRpeEq4Table(rope, seqLen, chunk, 10000);

  it('rotating with the table gives Eq. 4 computed literally in complex arithmetic, in every chunk (φ_0 = 1 rad, φ_1 = 1e−4 …)', () => {
    for (const p of [0, 1, 15, 16, 17, 31, 32, 47, 79]) {
      const h = randomHeads(headDim, p + 1);
      const ours = rotateWithTable(h, 1, 1, headDim, rope, table, [p]);
      expectClose(ours, Float32Array.from(threeDRpeEq4(h, rope, p, chunk, 10000)), TOLERANCES.f32Elementwise, `p=${p}`);
    }
  });

  it('q·k of table-rotated vectors equals Eq. 5 (complex sum over pairs with the chunk phase e^{i(φ_i − φ_j)})', () => {
    let checked = 0;
    for (const pq of [3, 16, 40, 79]) {
      for (const pk of [0, 2, 15, 16, 30, 33, 64, 79]) {
        const q = randomHeads(headDim, 1000 + pq);
        const k = randomHeads(headDim, 2000 + pk);
        const qr = rotateWithTable(q, 1, 1, headDim, rope, table, [pq]);
        const kr = rotateWithTable(k, 1, 1, headDim, rope, table, [pk]);
        const dot = qr.reduce((s, v, d) => s + v * kr[d]!, 0);
        const eq5 = threeDRpeScoreEq5(q, k, rope, pq, pk, chunk, 10000);
        expect(Math.abs(dot - eq5)).toBeLessThanOrEqual(TOLERANCES.f32Elementwise.atol * 10 + TOLERANCES.f32Elementwise.rtol * Math.abs(eq5));
        checked++;
      }
    }
    expect(checked).toBe(32);
  });

  it('inside one chunk the score is plain RoPE at the in-chunk positions (φ cancels)', () => {
    const q = randomHeads(headDim, 7);
    const k = randomHeads(headDim, 8);
    const [pq, pk] = [45, 36]; // chunk 2, m = 13 and 4
    const ropeDot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, d) => s + v * b[d]!, 0);
    const plain = ropeDot(ropeRotate(q, 1, 1, headDim, rope, [13]), ropeRotate(k, 1, 1, headDim, rope, [4]));
    expect(threeDRpeScoreEq5(q, k, rope, pq, pk, chunk, 10000)).toBeCloseTo(plain, 5);
  });

  it("Theorem 1: n = ⌈L_p/c⌉ chunks spread over L (c′ = ⌈L/n⌉), the same as the reference; out-of-range c′ is refused", () => {
    expect(theorem1ChunkSize(128, 512, 2048)).toBe(512);
    expect(theorem1ChunkSize(128, 512, 1024)).toBe(interpolatedChunkSize(128, 512, 1024));
    expect(theorem1ChunkSize(384, 512, 1024)).toBe(512);
    expect(theorem1ChunkSize(128, 512, 300)).toBe(128); // the context fits: chunks stay c
    expect(() => theorem1ChunkSize(512, 512, 1024)).toThrow(/outside \[3, 512\]/);
  });
});

describe("released 3D-RPE code's tables", () => {
  const rope: RopeSpec = { style: 'neox', dim: 8, freqBase: 10000, scaling: { type: 'none' } };
  const g = { chunkSize: 24, localWindow: 4, phaseBase: 10000 };
  const chunkLen = 20;
  const seqLen = 90;

  it('keys sit at p mod chunk_len; query tables hold the intra / successive / inter angles of the reference', () => {
    const geometry = { chunkSize: 24, chunkLen, phaseBase: 10000 };
    const keys = chunkedKeyTable(rope, seqLen, geometry);
    expectClose(keys, ropeTable(rope, seqLen).map((_, e) => ropeTable(rope, chunkLen)[((Math.floor(e / 8) % chunkLen) * 8) + (e % 8)]!),
      TOLERANCES.ropeTableVsReference, 'keys');
    const queries = chunkedQueryTables(rope, seqLen, geometry);
    for (const p of [0, 19, 20, 45, 61, 89]) {
      const qc = Math.floor(p / chunkLen);
      // Variant v is used against keys in chunk qc − v (v = 2: any older chunk, e.g. qc − 2).
      for (let v = 0; v < 3; v++) {
        for (let i = 0; i < 4; i++) {
          const angle = chunkedQueryAngle(g, p, qc - v, ropePairFrequency(rope, i).omega);
          const at = ((v * seqLen + p) * 4 + i) * 2;
          expect(queries[at]).toBeCloseTo(Math.cos(angle), 6);
          expect(queries[at + 1]).toBeCloseTo(Math.sin(angle), 6);
        }
      }
    }
  });

  it('positionTables checks its fields and names them', () => {
    const r = CONFIGS[0]!;
    expect(() => positionTables(r, { type: 'linear', factor: 0 }, 8, 8)).toThrow(/factor must be > 0/);
    expect(() => positionTables(r, { type: '3d-rpe', chunkSize: 1, mode: 'eq4' }, 8, 8)).toThrow(/chunkSize must be an integer ≥ 2/);
    expect(() => positionTables(r, { type: '3d-rpe', chunkSize: 8, mode: 'chunked', localWindow: 8 }, 8, 8)).toThrow(/localWindow/);
    expect(() => positionTables(r, { type: '3d-rpe', chunkSize: 8, mode: 'chunked', interpolate: true }, 8, 8)).toThrow(/interpolate applies to mode 'eq4'/);
    expect(positionTables(r, { type: '3d-rpe', chunkSize: 8, mode: 'chunked' }, 64, 64)).toMatchObject({ kind: 'chunked', geometry: { chunkLen: 4 } });
    expect(() => positionTables(r, { type: '3d-rpe', chunkSize: 16, mode: 'chunked' }, 64, 512)).toThrow(/got 32 \(the default, trained context 512 \/ 16/);
  });
});

describe('ropeConfigFromGguf', () => {
  const file = (arch: string, entries: Record<string, GgufValue>): GgufFile => ({
    version: 3, tensors: [], alignment: 32, dataOffset: 0,
    metadata: new Map(Object.entries(entries).map(([k, v]) => [`${arch}.${k}`, v])),
    source: { name: 'test.gguf', byteLength: 0, read: async () => new Uint8Array(0) },
  });

  it('llama: adjacent pairs, defaults base 10000 and all head dims; qwen2: NeoX pairs', () => {
    expect(ropeConfigFromGguf(file('llama', {}), 'llama', 64, 4096)).toEqual({ style: 'norm', dim: 64, freqBase: 10000, scaling: { type: 'none' } });
    expect(ropeConfigFromGguf(file('qwen2', { 'rope.freq_base': 1e6, 'rope.dimension_count': 32 }), 'qwen2', 64, 4096))
      .toEqual({ style: 'neox', dim: 32, freqBase: 1e6, scaling: { type: 'none' } });
  });

  it('rope.scaling.type linear / yarn and the legacy rope.scale_linear', () => {
    expect(ropeConfigFromGguf(file('llama', { 'rope.scaling.type': 'linear', 'rope.scaling.factor': 4 }), 'llama', 8, 512).scaling)
      .toEqual({ type: 'linear', factor: 4 });
    expect(ropeConfigFromGguf(file('llama', { 'rope.scale_linear': 2 }), 'llama', 8, 512).scaling).toEqual({ type: 'linear', factor: 2 });
    expect(ropeConfigFromGguf(file('llama', { 'rope.scaling.type': 'yarn', 'rope.scaling.factor': 4, 'rope.scaling.original_context_length': 4096 }), 'llama', 8, 16384).scaling)
      .toEqual({ type: 'yarn', factor: 4, originalContext: 4096, attnFactor: 1, betaFast: 32, betaSlow: 1, extFactor: 1 });
  });

  it('bad values fail naming the key', () => {
    expect(() => ropeConfigFromGguf(file('llama', { 'rope.dimension_count': 9 }), 'llama', 8, 512)).toThrow(/rope.dimension_count = 9/);
    expect(() => ropeConfigFromGguf(file('llama', { 'rope.scaling.type': 'longrope' }), 'llama', 8, 512)).toThrow(/'longrope' is not supported/);
    expect(() => ropeConfigFromGguf(file('gpt2', {}), 'gpt2', 8, 512)).toThrow(/no known RoPE style/);
  });
});
