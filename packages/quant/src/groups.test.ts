import { describe, expect, it } from 'vitest';
import { randomFloats } from '@qgpu/testing';
import { dequantizeGroups, quantizeRtn, type QuantBits } from './groups.ts';

describe('RTN group quantization', () => {
  it('asymmetric 4-bit on a ramp 0..31 matches the hand calculation', () => {
    // min 0, max 31: s = 31/15, z = −round(0) = 0, q_e = round(e·15/31).
    const w = Float32Array.from({ length: 32 }, (_, e) => e);
    const q = quantizeRtn(w, 1, 32, { bits: 4, group: 32 });
    expect(q.scales[0]).toBeCloseTo(31 / 15, 6);
    expect(q.zeros[0]).toBe(0);
    // e = 1 → 0.484 → 0; e = 2 → 0.968 → 1; e = 3 → 1.452 → 1; e = 16 → 7.742 → 8; e = 31 → 15.
    expect([q.codes[1], q.codes[2], q.codes[3], q.codes[16], q.codes[31]]).toEqual([0, 1, 1, 8, 15]);
  });

  it('symmetric 4-bit on −16..15 matches the hand calculation (z = 8, s = absmax/7)', () => {
    const w = Float32Array.from({ length: 32 }, (_, e) => e - 16);
    const q = quantizeRtn(w, 1, 32, { bits: 4, group: 32, symmetric: true });
    expect(q.scales[0]).toBeCloseTo(16 / 7, 6);
    expect(q.zeros[0]).toBe(8);
    // −16 → −7 → code 1; 15 → round(6.5625) = 7 → 15; 1 → round(0.4375) = 0 → 8; 2 → round(0.875) = 1 → 9.
    expect([q.codes[0], q.codes[31], q.codes[17], q.codes[18]]).toEqual([1, 15, 8, 9]);
  });

  it('asymmetric zero point is an unclamped integer: a positive group gets z < 0', () => {
    // min 10, max 17, 3 bits: s = 1, z = −10, codes = w − 10.
    const w = Float32Array.from({ length: 32 }, (_, e) => 10 + (e % 8));
    const q = quantizeRtn(w, 1, 32, { bits: 3, group: 32 });
    expect(q.scales[0]).toBe(1);
    expect(q.zeros[0]).toBe(-10);
    expect(Array.from(q.codes.subarray(0, 8))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(Array.from(dequantizeGroups(q).subarray(0, 8))).toEqual([10, 11, 12, 13, 14, 15, 16, 17]);
  });

  for (const bits of [2, 3, 4, 8] as QuantBits[]) {
    for (const group of [32, 64, 128] as const) {
      it(`asymmetric ${bits}-bit group ${group}: every weight within one step s of its group (s/2 rounding + s/2 integer zero point)`, () => {
        const rows = 3;
        const cols = 256;
        const w = randomFloats(bits * 1000 + group, rows * cols, 2);
        const q = quantizeRtn(w, rows, cols, { bits, group });
        const back = dequantizeGroups(q);
        for (let i = 0; i < w.length; i++) {
          const s = q.scales[Math.floor(i / cols) * (cols / group) + Math.floor((i % cols) / group)]!;
          expect(Math.abs(back[i]! - w[i]!)).toBeLessThanOrEqual(s * (1 + 1e-5));
          expect(q.codes[i]).toBeLessThan(1 << bits);
        }
      });
    }
  }

  it('rejects widths that are not whole groups, and unsupported bits', () => {
    expect(() => quantizeRtn(new Float32Array(172), 1, 172, { bits: 4, group: 64 })).toThrow(/multiple of the group size 64/);
    expect(() => quantizeRtn(new Float32Array(64), 1, 64, { bits: 1 as QuantBits, group: 64 })).toThrow(/bits 1/);
  });

});
