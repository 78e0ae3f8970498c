import { describe, expect, it } from 'vitest';
import { f32ToF16 } from '../f16.ts';
import { dequantize, quantize } from '../quant/index.ts';
import { dequantizeLut, LUT_BITS, lutBitsFor, lutCode, lutFromTensor, quantizeLut, type LutBits, type LutGroup } from './index.ts';

/** Deterministic values in [−1, 1) with a 10× outlier every 41st element, so group ranges differ widely. */
function values(seed: number, n: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, (_, i) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const v = s / 2 ** 31 - 1;
    return i % 41 === 3 ? 10 * v : v;
  });
}

/**
 * RTN's bound: every weight is within half a step s/2 of its group's grid. The f32 slack covers the rounding of s
 * and z (stored as f32) and of the product s·(q − z): a few ulp of the group's magnitude.
 */
function expectWithinHalfStep(w: Float32Array, deq: Float32Array, scales: Float32Array, cols: number, group: number): number {
  let worst = 0;
  for (let i = 0; i < w.length; i++) {
    const s = scales[Math.floor(i / cols) * (cols / group) + Math.floor((i % cols) / group)]!;
    const err = Math.abs(w[i]! - deq[i]!);
    worst = Math.max(worst, err / s);
    expect(err).toBeLessThanOrEqual(s / 2 + 1e-6 * (Math.abs(w[i]!) + s));
  }
  return worst;
}

describe('LUT bit-plane format', () => {
  it('packs bit i of the code of column 32k + 4n + e into bit e of nibble n of plane word i', () => {
    // Codes chosen so each plane of the first 4 columns gives a distinct nibble (methods.md §5.2: q = [3, 0, 1, 2]).
    const cols = 32;
    const w = new Float32Array(cols);
    [3, 0, 1, 2].forEach((q, e) => { w[e] = q; });
    w[31] = 3; // keeps the range [0, 3] so s = 1, z = 0 at 2 bits and codes equal the values
    const t = quantizeLut(w, 1, cols, 2, 32);
    expect([t.scales[0], t.zeros[0]]).toEqual([1, -0]);
    expect(t.planes[0]! & 0xf).toBe(0b0101); // plane 0 bits [1,0,1,0] → idx 5
    expect(t.planes[1]! & 0xf).toBe(0b1001); // plane 1 bits [1,0,0,1] → idx 9
    expect(t.planes[0]! >>> 28).toBe(0b1000); // column 31 = nibble 7, element 3
    expect(Array.from({ length: cols }, (_, c) => lutCode(t, 0, c))).toEqual(Array.from(w));
  });

  for (const bits of LUT_BITS) {
    for (const group of [32, 64] as LutGroup[]) {
      it(`bits=${bits} group=${group}: codes in range and every weight within s/2 of s·(q − z)`, () => {
        const [rows, cols] = [5, 3 * 64];
        const w = values(bits * 100 + group, rows * cols);
        const t = quantizeLut(w, rows, cols, bits, group);
        expect(t.planes.length).toBe(rows * (cols / 32) * bits);
        for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expect(lutCode(t, r, c)).toBeLessThan(1 << bits);
        const worst = expectWithinHalfStep(w, dequantizeLut(t), t.scales, cols, group);
        // RTN on ≥ 32 spread values must actually use half a step somewhere; far below would mean a wrong grid.
        expect(worst).toBeGreaterThan(0.25);
      });
    }
  }

  it('reproduces a constant group and the extremes of every group exactly (up to f32 rounding)', () => {
    const cols = 64;
    const w = values(7, 2 * cols);
    w.fill(0.375, 0, 32);
    const t = quantizeLut(w, 2, cols, 3, 32);
    const deq = dequantizeLut(t);
    for (let i = 0; i < 32; i++) expect(deq[i]).toBeCloseTo(0.375, 6);
    for (let g = 1; g < 4; g++) {
      const part = Array.from(w.subarray(32 * g, 32 * g + 32));
      const back = Array.from(deq.subarray(32 * g, 32 * g + 32));
      expect(Math.min(...back)).toBeCloseTo(Math.min(...part), 5);
      expect(Math.max(...back)).toBeCloseTo(Math.max(...part), 5);
    }
  });

  it('converts Q4_0 (group 64), Q8_0 and F16 tensors by RTN: within s/2 of the decoded tensor', () => {
    const [rows, cols] = [3, 128];
    const src = values(11, rows * cols);
    for (const [type, group] of [['Q4_0', 64], ['Q8_0', 32]] as const) {
      const t = lutFromTensor(type, quantize(type, src), rows, cols, 4, group);
      expect([t.bits, t.group]).toEqual([4, group]);
      expectWithinHalfStep(dequantize(type, quantize(type, src), rows * cols), dequantizeLut(t), t.scales, cols, group);
    }
    const halves = Uint16Array.from(src, f32ToF16);
    const t = lutFromTensor('F16', new Uint8Array(halves.buffer), rows, cols, 2, 64);
    expect(t.bits).toBe(2);
  });

  it('maps Q4_0 at 4 bits / group 32 exactly: dequantizeLut equals ggml\'s Q4_0 dequantization bit for bit', () => {
    const [rows, cols] = [3, 96];
    const bytes = quantize('Q4_0', values(12, rows * cols));
    const t = lutFromTensor('Q4_0', bytes, rows, cols);
    expect(Array.from(t.zeros)).toEqual(new Array(rows * cols / 32).fill(8));
    expect(Array.from(dequantizeLut(t))).toEqual(Array.from(dequantize('Q4_0', bytes, rows * cols)));
  });

  it('maps Q8_0 at 8 bits / group 32 exactly (codes q + 128, zero point 128), and picks 8 bits for it by default', () => {
    const [rows, cols] = [3, 96];
    const src = values(13, rows * cols);
    // Force the int8 extremes −128 and 127 into the first block, so the code range [0, 255] is covered end to end.
    const bytes = quantize('Q8_0', src);
    bytes[2] = 0x80;
    bytes[3] = 0x7f;
    const t = lutFromTensor('Q8_0', bytes, rows, cols);
    expect([t.bits, t.group, lutBitsFor('Q8_0')]).toEqual([8, 32, 8]);
    expect([lutCode(t, 0, 0), lutCode(t, 0, 1)]).toEqual([0, 255]);
    expect(Array.from(t.zeros)).toEqual(new Array(rows * cols / 32).fill(128));
    expect(Array.from(dequantizeLut(t))).toEqual(Array.from(dequantize('Q8_0', bytes, rows * cols)));
  });

  it('converts types without an exact mapping at 8 bits by default: within s/2 = range/510 of the decoded tensor', () => {
    const [rows, cols] = [2, 64];
    const src = values(14, rows * cols);
    for (const type of ['Q4_1', 'Q4_K'] as const) {
      const n = type === 'Q4_K' ? 256 : rows * cols;
      const bytes = quantize(type, values(15, n));
      const t = lutFromTensor(type, bytes, n / cols, cols);
      expect(t.bits).toBe(8);
      expectWithinHalfStep(dequantize(type, bytes, n), dequantizeLut(t), t.scales, cols, 32);
    }
    expect(lutFromTensor('F32', new Uint8Array(src.buffer), rows, cols).bits).toBe(8);
  });

  it('rejects shapes the kernels cannot take', () => {
    expect(() => quantizeLut(new Float32Array(48), 1, 48, 4, 32)).toThrow(RangeError);
    expect(() => quantizeLut(new Float32Array(64), 1, 64, 9 as LutBits, 32)).toThrow(RangeError);
    expect(() => quantizeLut(new Float32Array(64), 1, 64, 4, 16 as LutGroup)).toThrow(RangeError);
  });
});
