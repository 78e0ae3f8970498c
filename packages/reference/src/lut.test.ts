import { dequantizeLut, quantizeLut, type LutBits, type LutGroup } from '@qgpu/formats';
import { describe, expect, it } from 'vitest';
import { lutBuild, lutEntry, lutEntryI8, lutGemv, lutGemvI8, lutQuantizeTables } from './lut.ts';
import { matmul } from './ops.ts';

function values(seed: number, n: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

describe('LUT twins', () => {
  it('build the table of methods.md §5.2 (all 16 entries via the mirror) and Σx per 32 columns', () => {
    const x = new Float32Array(32);
    x.set([0.5, -1.0, 2.0, 0.25]);
    const t = lutBuild(x, 32);
    const full = Array.from({ length: 16 }, (_, idx) => lutEntry(t.tables, 0, idx));
    expect(full).toEqual([-1.75, -0.75, -3.75, -2.75, 2.25, 3.25, 0.25, 1.25, -1.25, -0.25, -3.25, -2.25, 2.75, 3.75, 0.75, 1.75]);
    expect(t.sums[0]).toBe(1.75);
  });

  it('reproduce the worked example y = 0.5 (q = [3, 0, 1, 2], 2 bits, w = q − 2)', () => {
    const x = new Float32Array(32);
    x.set([0.5, -1.0, 2.0, 0.25]);
    // Plane 0 bits [1,0,1,0] → nibble 5, plane 1 bits [1,0,0,1] → nibble 9; the other 28 codes are 0 (w = −2) on x = 0.
    const planes = Uint32Array.of(5, 9);
    const y = lutGemv(planes, Float32Array.of(1), Float32Array.of(2), lutBuild(x, 32), 1, 32, 2, 32);
    expect(y[0]).toBe(0.5);
  });

  it('quantize the tables to int8 as methods.md §5.2: qT[5] = 110, qT[9] = −8, y ≈ 0.5128', () => {
    const x = new Float32Array(32);
    x.set([0.5, -1.0, 2.0, 0.25]);
    const q = lutQuantizeTables(lutBuild(x, 32));
    expect(q.scales[0]).toBeCloseTo(3.75 / 127, 7);
    // Index 5 is odd (stored entry 2); index 9 is odd (stored entry 4).
    expect([lutEntryI8(q.qtables, 0, 5 >> 1), lutEntryI8(q.qtables, 0, 9 >> 1)]).toEqual([110, -8]);
    const y = lutGemvI8(Uint32Array.of(5, 9), Float32Array.of(1), Float32Array.of(2), q, 1, 32, 2, 32);
    expect(y[0]).toBeCloseTo(0.5128, 4);
  });

  for (const bits of [1, 2, 3, 4, 8] as LutBits[]) {
    for (const group of [32, 64] as LutGroup[]) {
      it(`bits=${bits} group=${group}: lutGemv equals W·x on dequantizeLut weights`, () => {
        const [rows, cols, n] = [7, 192, 3];
        const w = quantizeLut(values(bits + group, rows * cols), rows, cols, bits, group);
        const x = values(99, n * cols);
        const y = lutGemv(w.planes, w.scales, w.zeros, lutBuild(x, cols), rows, cols, bits, group);
        const want = matmul(dequantizeLut(w), x, rows, cols, n);
        // Same products regrouped: tables are f32 sums of 4 terms (relative 2^-24 each) and the weights' f32
        // rounding differs from s·(q − z) in double, so agreement is to ~1e-5 of Σ|w·x| (here ≲ 100).
        for (let i = 0; i < y.length; i++) expect(Math.abs(y[i]! - want[i]!)).toBeLessThan(1e-4);
      });
    }
  }
});
