import { describe, expect, it } from 'vitest';
import { add, argmax, attention, embed, matmul, rmsNorm, ropeLlama, siluMul } from './ops.ts';

const f32 = (values: number[]) => new Float32Array(values);
/**
 * Compares against hand-computed doubles. The ops compute in double and round once to f32 (relative error ≤ 2^-24
 * ≈ 6e-8), so a relative bound of 1e-6 leaves room only for that rounding, not for a wrong formula.
 */
const expectValues = (actual: Float32Array, expected: number[]) => {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(Math.abs(actual[i]! - e)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(e))));
};

describe('rmsNorm', () => {
  it('normalizes each row by its own root mean square, then scales by the weight', () => {
    // Row [3, 4]: mean(x²) = 12.5, rms = √12.5. Row [1, 1]: rms = 1.
    const out = rmsNorm(f32([3, 4, 1, 1]), f32([1, 2]), 2, 2, 0);
    const rms = Math.sqrt(12.5);
    expectValues(out, [3 / rms, 8 / rms, 1, 2]);
  });
  it('adds eps inside the square root', () => {
    expectValues(rmsNorm(f32([1, 1]), f32([1, 1]), 1, 2, 3), [0.5, 0.5]); // 1/√(1+3)
  });
  it('rejects a weight of the wrong length', () => {
    expect(() => rmsNorm(f32([1, 2]), f32([1]), 1, 2, 0)).toThrow(/rmsNorm weight/);
  });
});

describe('matmul', () => {
  it('computes y = W·x per token with W [out, in] row-major', () => {
    const w = f32([1, 2, 3, 4, 5, 6]); // [[1,2,3],[4,5,6]]
    const x = f32([1, 0, -1, 2, 1, 0]); // tokens [1,0,-1] and [2,1,0]
    expectValues(matmul(w, x, 2, 3, 2), [-2, -2, 4, 13]);
  });
});

describe('ropeLlama', () => {
  it('rotates a 2-element head at position 1 by exactly 1 radian', () => {
    expectValues(ropeLlama(f32([1, 0]), 1, 1, 2, [1], 2, 10000), [Math.cos(1), Math.sin(1)]);
    expectValues(ropeLlama(f32([0, 1]), 1, 1, 2, [1], 2, 10000), [-Math.sin(1), Math.cos(1)]);
  });
  it('is the identity at position 0', () => {
    expectValues(ropeLlama(f32([0.3, -0.7, 2, 5]), 1, 1, 4, [0], 4, 10000), [0.3, -0.7, 2, 5]);
  });
  it('rotates adjacent pairs with θ_i = pos·base^(-2i/ropeDim), per head, and leaves dims past ropeDim alone', () => {
    // headDim 6, ropeDim 4, base 100: pair 0 turns by pos·1, pair 1 by pos·100^(-1/2) = pos·0.1; dims 4,5 pass.
    const head = [1, 0, 1, 0, 7, 8];
    const out = ropeLlama(f32([...head, ...head]), 1, 2, 6, [2], 4, 100);
    const one = [Math.cos(2), Math.sin(2), Math.cos(0.2), Math.sin(0.2), 7, 8];
    expectValues(out, [...one, ...one]);
  });
  it('uses each token its own position', () => {
    const out = ropeLlama(f32([1, 0, 1, 0]), 2, 1, 2, Int32Array.from([0, 3]), 2, 10000);
    expectValues(out, [1, 0, Math.cos(3), Math.sin(3)]);
  });
});

describe('attention', () => {
  it('returns V itself when a single position is visible', () => {
    expectValues(attention(f32([5, -1]), f32([2, 3]), f32([0.25, -4]), 1, 0, 1, 1, 2), [0.25, -4]);
  });
  it('weights V by the softmax of q·k/√headDim over the visible positions', () => {
    // q = [1, 0]; keys [0, 0] and [2, 0] score 0 and 2/√2; values [1, 0] and [0, 1].
    const s = 2 / Math.SQRT2;
    const w1 = Math.exp(s) / (1 + Math.exp(s));
    const out = attention(f32([1, 0]), f32([0, 0, 2, 0]), f32([1, 0, 0, 1]), 1, 1, 1, 1, 2);
    expectValues(out, [1 - w1, w1]);
  });
  it('is causal during prefill and shares each KV head across its query-head group', () => {
    // 2 tokens from position 0, 2 query heads on 1 KV head (headDim 1). Token 0 sees only V[0]; token 1 sees both.
    const q = f32([1, -1, 1, -1]);
    const k = f32([1, 2]);
    const v = f32([10, 20]);
    const out = attention(q, k, v, 2, 0, 2, 1, 1);
    const up = Math.exp(2) / (Math.exp(1) + Math.exp(2)); // head 0 at token 1: scores 1, 2
    const down = Math.exp(-2) / (Math.exp(-1) + Math.exp(-2)); // head 1 at token 1: scores -1, -2
    expectValues(out, [10, 10, 10 + 10 * up, 10 + 10 * down]);
  });
  it('maps query head h to KV head floor(h / group)', () => {
    // 4 query heads, 2 KV heads (headDim 1), one position: heads 0,1 read V[kv 0] = 3, heads 2,3 read V[kv 1] = 4.
    expectValues(attention(f32([1, 1, 1, 1]), f32([0, 0]), f32([3, 4]), 1, 0, 4, 2, 1), [3, 3, 4, 4]);
  });
  it('rejects caches that do not hold every visible position', () => {
    expect(() => attention(f32([1]), f32([1]), f32([1]), 1, 1, 1, 1, 1)).toThrow(/caches must hold 2 positions/);
  });
});

describe('elementwise, argmax, embed', () => {
  it('siluMul computes g/(1+e^-g)·u', () => {
    expectValues(siluMul(f32([0, 1, -2]), f32([5, 2, 1])), [0, 2 / (1 + Math.exp(-1)), -2 / (1 + Math.exp(2))]);
  });
  it('add sums elementwise', () => {
    expectValues(add(f32([1, 2.5]), f32([-1, 0.5])), [0, 3]);
  });
  it('argmax returns the first index of the maximum', () => {
    expect(argmax(f32([1, 7, 3, 7]))).toBe(1);
    expect(argmax(f32([-5]))).toBe(0);
  });
  it('embed gathers rows and rejects out-of-vocabulary ids', () => {
    const table = f32([0, 1, 10, 11, 20, 21]); // vocab 3, dim 2
    expectValues(embed(table, 2, [2, 0, 2]), [20, 21, 0, 1, 20, 21]);
    expect(() => embed(table, 2, [3])).toThrow(/outside the vocabulary/);
  });
});
