// The int8 twins against the ideal math: the integer-dot formulas of methods.md §8.3 must equal the float matmul of
// the dequantized weights with the dequantized activations (both in double, so only f32 storage rounding remains),
// and the quantizers must keep every element within half a step of its input.
import { dequantize, quantize, repack } from '@qgpu/formats';
import { describe, expect, it } from 'vitest';
import {
  codeAt, crossQuant, dequantizeAct, dot4I8, foldColumnScale, matmulDp4a, quantizationKernel, quantizeActQ8, roundHalfEven,
  type Dp4aWeightType,
} from './int8.ts';
import { matmul } from './ops.ts';

/** Deterministic values in (−scale, scale) with a few 10× outliers, as activations have. */
function values(seed: number, n: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, (_, i) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale * (i % 37 === 5 ? 10 : 1);
  });
}

const relErr = (a: Float32Array, e: Float32Array) => {
  let num = 0;
  let den = 0;
  e.forEach((v, i) => { num += (a[i]! - v) ** 2; den += v * v; });
  return Math.sqrt(num / den);
};

describe('int8 primitives', () => {
  it('roundHalfEven rounds ties to even, like WGSL round', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, 3]);
  });
  it('dot4I8 is the signed dot product of four packed bytes', () => {
    expect(dot4I8(0x7f03fe01, 0x7f030201)).toBe(1 - 4 + 9 + 127 * 127);
  });
});

describe('quantizeActQ8', () => {
  it('keeps every element within half a step d/2 of its input, with the block max at ±127', () => {
    const x = values(1, 3 * 96);
    const act = quantizeActQ8(x, 3, 96);
    const back = dequantizeAct(act);
    x.forEach((v, e) => expect(Math.abs(back[e]! - v)).toBeLessThanOrEqual(act.xd[e >> 5]! / 2 + 1e-7));
    for (let b = 0; b < act.xd.length; b++) {
      const codes = Array.from({ length: 32 }, (_, i) => Math.abs(codeAt(act, b, i)));
      expect(Math.max(...codes)).toBe(127);
      expect(act.xs[b]).toBeCloseTo(act.xd[b]! * Array.from({ length: 32 }, (_, i) => codeAt(act, b, i)).reduce((s, q) => s + q, 0), 5);
    }
  });
  it('gives an all-zero block d = 0 and zero codes', () => {
    const act = quantizeActQ8(new Float32Array(32), 1, 32);
    expect([act.xd[0], act.xs[0], ...act.xq]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('matmulDp4a', () => {
  it.each([['Q8_0', 96], ['Q4_0', 96], ['Q4_K', 512]] as const)('%s equals the float matmul of both dequantized operands', (type: Dp4aWeightType, cols) => {
    const [rows, n] = [5, 3];
    const bytes = quantize(type, values(7, rows * cols));
    const act = quantizeActQ8(values(8, n * cols, 3), n, cols);
    const got = matmulDp4a(type, repack(type, bytes, rows * cols).parts, act, rows, cols, n);
    const want = matmul(dequantize(type, bytes, rows * cols), dequantizeAct(act), rows, cols, n);
    // Both sides are double sums of the same products stored to f32; only the stored dequantized values (f32) and
    // the final rounding differ.
    expect(relErr(got, want)).toBeLessThan(1e-6);
  });
});

describe('crossQuant', () => {
  // methods.md §3.4, padded to one block of 32 with inactive columns (x = 0, c = 0).
  const x = new Float32Array(64);
  x.set([0.02, -0.5, 30.0, 0.1], 0);
  x.set([0.01, 0.4, -25.0, -0.03], 32);
  const colMax = new Float32Array(32);
  colMax.set([0.02, 0.5, 30, 0.1]);
  const codes = (act: ReturnType<typeof crossQuant>) => [0, 1].map((t) => [0, 1, 2, 3].map((i) => codeAt(act, t, i)));

  it('α = 1 is per-token quantization: half the elements fall into the kernel (methods.md §3.4)', () => {
    const act = crossQuant(x, 2, 32, colMax, 1);
    expect(codes(act)).toEqual([[0, -2, 127, 0], [0, 2, -127, 0]]);
    expect(quantizationKernel(x, act)).toEqual({ nonzero: 8, zeroed: 4 });
  });
  it('α = 0.5 empties the kernel (methods.md §3.4)', () => {
    const act = crossQuant(x, 2, 32, colMax, 0.5);
    expect(codes(act)).toEqual([[3, -16, 127, 7], [2, 14, -116, -2]]);
    expect(quantizationKernel(x, act)).toEqual({ nonzero: 8, zeroed: 0 });
  });
  it('with the column factor folded into the weights, the int8 product approximates W·x', () => {
    const [rows, cols, n] = [7, 64, 3];
    const xs = values(11, n * cols, 2);
    const col = new Float32Array(cols);
    xs.forEach((v, e) => { col[e % cols] = Math.max(col[e % cols]!, Math.abs(v)); });
    const w = values(12, rows * cols);
    const act = crossQuant(xs, n, cols, col, 0.5);
    const got = matmul(foldColumnScale(w, rows, cols, col, 0.5), dequantizeAct(act), rows, cols, n);
    expect(relErr(got, matmul(w, xs, rows, cols, n))).toBeLessThan(0.02);
  });
});
