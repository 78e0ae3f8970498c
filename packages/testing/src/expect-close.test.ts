import { describe, expect, it } from 'vitest';
import { compareArrays, expectClose } from './expect-close.ts';
import { TOLERANCES, type Tolerance } from './tolerance.ts';

const tol: Tolerance = { atol: 0.01, rtol: 0.1, reason: 'test tolerance' };

describe('compareArrays', () => {
  it('reports max abs error, max rel error (skipping expected zeros), NMSE and the worst index', () => {
    // errors: 0.5 at 0 (rel 0.05), 0.02 at 1 (expected 0: no rel), 0.3 at 2 (rel 0.3).
    const stats = compareArrays([10.5, 0.02, 1.3], [10, 0, 1], tol);
    expect(stats.maxAbsError).toBeCloseTo(0.5, 12);
    expect(stats.maxAbsIndex).toBe(0);
    expect(stats.maxRelError).toBeCloseTo(0.3, 12);
    expect(stats.maxRelIndex).toBe(2);
    expect(stats.nmse).toBeCloseTo((0.25 + 0.0004 + 0.09) / 101, 12);
    // allowed: 1.01, 0.01, 0.11 → ratios 0.495, 2, 2.73: index 2 is worst, indices 1 and 2 violate.
    expect(stats.worstIndex).toBe(2);
    expect(stats.violations).toBe(2);
  });

  it('treats NaN as equal only to NaN and infinities only to themselves', () => {
    expect(compareArrays([NaN, Infinity, -Infinity], [NaN, Infinity, -Infinity], tol).violations).toBe(0);
    const stats = compareArrays([NaN, 1, Infinity], [1, NaN, 1], tol);
    expect(stats.violations).toBe(3);
    expect(stats.maxAbsError).toBe(Infinity);
  });

  it('gives NMSE 0 for identical zeros and Infinity for error against all-zero expected', () => {
    expect(compareArrays([0, 0], [0, 0]).nmse).toBe(0);
    expect(compareArrays([0, 1e-9], [0, 0]).nmse).toBe(Infinity);
  });

  it('rejects arrays of different lengths', () => {
    expect(() => compareArrays([1], [1, 2])).toThrow(RangeError);
  });
});

describe('expectClose', () => {
  it('passes within atol + rtol·|expected| and returns the statistics', () => {
    const stats = expectClose(new Float32Array([1.05, -2]), [1, -2], tol);
    expect(stats.violations).toBe(0);
  });

  it('throws a message with the label, worst index, both values, error statistics and the reason', () => {
    expect(() => expectClose([1, 2, 9], [1, 2, 3], tol, 'logits')).toThrow(
      /logits: 1 of 3 elements outside[\s\S]*worst index 2: actual 9, expected 3[\s\S]*max abs error 6\.000e\+0 at 2[\s\S]*max rel error 2\.000e\+0[\s\S]*NMSE[\s\S]*test tolerance/,
    );
  });

  it('enforces maxNmse even when every element is within the elementwise bounds', () => {
    const loose: Tolerance = { atol: 1, rtol: 0, maxNmse: 1e-6, reason: 'nmse only' };
    expect(() => expectClose([1.1, 2.1], [1, 2], loose)).toThrow(/NMSE 4\.000e-3 > 1\.000e-6/);
  });

  it('every table entry has non-negative bounds and a reason', () => {
    for (const [name, t] of Object.entries(TOLERANCES)) {
      expect(t.atol, name).toBeGreaterThanOrEqual(0);
      expect(t.rtol, name).toBeGreaterThanOrEqual(0);
      expect(t.reason.length, name).toBeGreaterThan(20);
    }
  });
});
