// Array comparison with the statistics a reviewer needs to tell a precision problem (small, spread-out error) from
// a bug (one wrong index, a NaN, a wrong offset): worst index against the tolerance, max abs/rel error, NMSE.
import type { Tolerance } from './tolerance.ts';

/** Error statistics of `actual` against `expected`. */
export interface CompareStats {
  readonly length: number;
  readonly maxAbsError: number;
  readonly maxAbsIndex: number;
  /** Max of |a−e|/|e| over elements with e ≠ 0 (relative error is undefined at e = 0; atol governs there). */
  readonly maxRelError: number;
  readonly maxRelIndex: number;
  /** Σ(a−e)² / Σe²; 0 when both are 0, Infinity when only the error is non-zero. */
  readonly nmse: number;
  /** Index with the largest |a−e| / (atol + rtol·|e|) (the largest abs error when no tolerance was given). */
  readonly worstIndex: number;
  /** Elements outside the tolerance (0 without one), NaN/Inf mismatches included. */
  readonly violations: number;
}

/**
 * Compares two arrays element by element. NaN matches only NaN and ±Infinity only itself; any other mismatch
 * involving them counts as an infinite error. Throws a RangeError when the lengths differ.
 */
export function compareArrays(actual: ArrayLike<number>, expected: ArrayLike<number>, tol?: Tolerance): CompareStats {
  if (actual.length !== expected.length) {
    throw new RangeError(`compareArrays: actual has ${actual.length} elements, expected has ${expected.length}`);
  }
  let maxAbsError = 0, maxAbsIndex = -1, maxRelError = 0, maxRelIndex = -1;
  let worstRatio = -1, worstIndex = -1, violations = 0;
  let sumSqError = 0, sumSqExpected = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const same = a === e || (Number.isNaN(a) && Number.isNaN(e));
    const absError = same ? 0 : Number.isFinite(a) && Number.isFinite(e) ? Math.abs(a - e) : Infinity;
    if (absError > maxAbsError || maxAbsIndex < 0) { maxAbsError = absError; maxAbsIndex = i; }
    if (e !== 0 && Number.isFinite(e)) {
      const relError = absError / Math.abs(e);
      if (relError > maxRelError || maxRelIndex < 0) { maxRelError = relError; maxRelIndex = i; }
    }
    if (Number.isFinite(e)) sumSqExpected += e * e;
    sumSqError += absError * absError;
    const allowed = tol ? tol.atol + tol.rtol * (Number.isFinite(e) ? Math.abs(e) : 0) : 1;
    const ratio = absError === 0 ? 0 : allowed === 0 ? Infinity : absError / allowed;
    if (tol && absError > allowed) violations++;
    if (ratio > worstRatio) { worstRatio = ratio; worstIndex = i; }
  }
  const nmse = sumSqError === 0 ? 0 : sumSqExpected === 0 ? Infinity : sumSqError / sumSqExpected;
  return { length: expected.length, maxAbsError, maxAbsIndex, maxRelError, maxRelIndex, nmse, worstIndex, violations };
}

/**
 * Asserts `|actual[i] − expected[i]| ≤ tol.atol + tol.rtol·|expected[i]|` for every i, and `NMSE ≤ tol.maxNmse`
 * when the tolerance sets one. On failure throws an Error naming the worst index (values there), the number of
 * violations, max abs error, max rel error, NMSE and the tolerance's reason. Returns the statistics on success so
 * tests can log measured errors.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, label = 'values'): CompareStats {
  const stats = compareArrays(actual, expected, tol);
  const nmseFails = tol.maxNmse !== undefined && !(stats.nmse <= tol.maxNmse);
  if (stats.violations === 0 && !nmseFails) return stats;
  const w = stats.worstIndex;
  const lines = [
    `${label}: ${stats.violations} of ${stats.length} elements outside atol ${tol.atol} + rtol ${tol.rtol}·|expected|`
      + (nmseFails ? `; NMSE ${fmt(stats.nmse)} > ${fmt(tol.maxNmse)}` : ''),
    `  worst index ${w}: actual ${actual[w]}, expected ${expected[w]}`,
    `  max abs error ${fmt(stats.maxAbsError)} at ${stats.maxAbsIndex}; max rel error ${fmt(stats.maxRelError)} at ${stats.maxRelIndex}; NMSE ${fmt(stats.nmse)}`,
    `  tolerance: ${tol.reason}`,
  ];
  throw new Error(lines.join('\n'));
}

const fmt = (x: number) => (Number.isFinite(x) && x !== 0 ? x.toExponential(3) : String(x));
