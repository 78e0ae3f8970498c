// Load-time weight fusion on stored matrices (fuse.ts): stacked / interleaved rows of GGUF blocks decode to the
// stacked / interleaved rows of the parts' decoded values, group codes likewise, and parts that are not the same
// linear map on the same input are refused.
import { quantize, tensorToF32 } from '@qgpu/formats';
import { quantizeRtn } from '@qgpu/quant';
import { describe, expect, it } from 'vitest';
import { fusionBlocker, interleaveRows, qkvRegionAligned, resolveFusions, stackRows, type StoredMatrix } from './fuse.ts';

const COLS = 64;
/** Deterministic values of row r, column c (distinct per matrix through `seed`). */
const values = (rows: number, seed: number) => Float32Array.from({ length: rows * COLS }, (_, i) => Math.sin(i * 0.37 + seed) * (1 + (i % 7)));
const blocks = (type: 'Q4_0' | 'Q8_0' | 'F32', rows: number, seed: number): StoredMatrix & { kind: 'blocks' } => ({
  kind: 'blocks', type, rows, cols: COLS, bytes: type === 'F32' ? new Uint8Array(values(rows, seed).buffer) : quantize(type, values(rows, seed)),
});
const decoded = (m: StoredMatrix) => {
  if (m.kind !== 'blocks') throw new Error('expected blocks');
  return Array.from({ length: m.rows }, (_, r) => Array.from(tensorToF32(m.type, m.bytes, m.rows * m.cols).subarray(r * COLS, (r + 1) * COLS)));
};

describe('load-time weight fusion (fuse.ts)', () => {
  it.each(['Q4_0', 'Q8_0', 'F32'] as const)('%s: stacked rows decode to [A; B; C], interleaved rows to a_0, b_0, a_1, …', (type) => {
    const [a, b, c] = [blocks(type, 4, 1), blocks(type, 2, 2), blocks(type, 2, 3)];
    const stacked = stackRows([a, b, c]);
    expect([stacked.rows, stacked.cols]).toEqual([8, COLS]);
    expect(decoded(stacked)).toEqual([...decoded(a), ...decoded(b), ...decoded(c)]);
    const up = blocks(type, 4, 5);
    const glu = interleaveRows(a, up);
    expect(decoded(glu)).toEqual(decoded(a).flatMap((row, r) => [row, decoded(up)[r]!]));
  });

  it('group codes (RTN without t): codes, scales and zeros move with their rows', () => {
    const g = (rows: number, seed: number): StoredMatrix => ({ kind: 'groups', rows, cols: COLS, quant: quantizeRtn(values(rows, seed), rows, COLS, { bits: 4, group: 32 }) });
    const [gate, up] = [g(3, 1), g(3, 2)];
    const fused = interleaveRows(gate, up);
    if (fused.kind !== 'groups' || gate.kind !== 'groups' || up.kind !== 'groups') throw new Error('expected group codes');
    const row = (q: typeof fused.quant, r: number) => [
      Array.from(q.codes.subarray(r * COLS, (r + 1) * COLS)), Array.from(q.scales.subarray(2 * r, 2 * r + 2)), Array.from(q.zeros.subarray(2 * r, 2 * r + 2)),
    ];
    for (let r = 0; r < 3; r++) {
      expect(row(fused.quant, 2 * r)).toEqual(row(gate.quant, r));
      expect(row(fused.quant, 2 * r + 1)).toEqual(row(up.quant, r));
    }
    expect([fused.quant.rows, fused.quant.bits, fused.quant.group]).toEqual([6, 4, 32]);
  });

  it('refuses parts that are not one linear map on one input', () => {
    const q4 = blocks('Q4_0', 2, 1);
    expect(fusionBlocker([q4, blocks('Q4_0', 2, 2)])).toBeUndefined();
    expect(fusionBlocker([q4, blocks('Q8_0', 2, 2)])).toMatch(/different stored types/);
    const c1 = Float32Array.from({ length: COLS }, (_, i) => 1 + i);
    const c2 = Float32Array.from(c1, (v, i) => (i === 5 ? v + 1 : v));
    const withC = (c: Float32Array): StoredMatrix => ({ ...blocks('Q8_0', 2, 1), columnAbsMax: c });
    expect(fusionBlocker([withC(c1), withC(Float32Array.from(c1))])).toBeUndefined();
    expect(fusionBlocker([withC(c1), withC(c2)])).toMatch(/CrossQuant/);
    expect(fusionBlocker([withC(c1), blocks('Q8_0', 2, 1)])).toMatch(/CrossQuant/);
    const quant = quantizeRtn(values(2, 1), 2, COLS, { bits: 4, group: 32 });
    const sinq: StoredMatrix = { kind: 'groups', rows: 2, cols: COLS, quant, colScale: new Float32Array(COLS).fill(1) };
    expect(fusionBlocker([sinq, { kind: 'groups', rows: 2, cols: COLS, quant }])).toMatch(/SINQ/);
    expect(fusionBlocker([{ kind: 'groups', rows: 2, cols: COLS, quant }, q4])).toMatch(/different stored formats/);
    expect(() => stackRows([q4, blocks('Q8_0', 2, 2)])).toThrow(/cannot fuse/);
  });

  it('q/k/v views fit the binding-offset alignment only when every plan\'s offsets do', () => {
    // stories260K: the v view of one token starts at (64 + 32)·4 = 384 bytes.
    expect(qkvRegionAligned({ qDim: 64, kvDim: 32 }, [1, 8], 256)).toBe(false);
    expect(qkvRegionAligned({ qDim: 64, kvDim: 32 }, [2, 8], 256)).toBe(true);
    expect(qkvRegionAligned({ qDim: 64, kvDim: 32 }, [1, 8], 128)).toBe(true);
    // SmolLM2-135M: q_dim 576, kv_dim 192 → 2304 and 3072 bytes for one token.
    expect(qkvRegionAligned({ qDim: 576, kvDim: 192 }, [1, 32], 256)).toBe(true);
  });

  it('the fuse option: all by default, none with false, single ones off with an object', () => {
    expect(resolveFusions(undefined)).toEqual({ qkv: true, gateUp: true, residual: true });
    expect(resolveFusions(false)).toEqual({ qkv: false, gateUp: false, residual: false });
    expect(resolveFusions({ gateUp: false })).toEqual({ qkv: true, gateUp: false, residual: true });
  });
});
