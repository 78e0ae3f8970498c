import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@qgpu/testing';
import { dequantizeGroups, quantizeRtn } from './groups.ts';
import { roundHalfEven } from './round.ts';
import { imbalance, kurtosis, quantizeSinq, sinkhornLog } from './sinq.ts';

/** Standard normal samples (Box–Muller on the repo's seeded generator). */
function gaussian(seed: number, n: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()));
}

/** The worked example's shape (methods.md §2.4): 6×8 Gaussian with one outlier W[2,5] = 12. */
function workedExample(): Float32Array {
  const w = gaussian(7, 48);
  w[2 * 8 + 5] = 12;
  return w;
}

/** Per-row asymmetric RTN of a whole row (the worked example's quantizer), in double. */
function rowRtn(w: ArrayLike<number>, rows: number, cols: number, bits: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = Array.from({ length: cols }, (_, c) => w[r * cols + c]!);
    const s = Math.max(Math.max(...row) - Math.min(...row), 1e-4) / ((1 << bits) - 1);
    const z = -roundHalfEven(Math.min(...row) / s);
    row.forEach((v, c) => { out[r * cols + c] = s * (Math.min((1 << bits) - 1, Math.max(0, roundHalfEven(v / s + z))) - z); });
  }
  return out;
}

const mse = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a, (v, i) => (v - b[i]!) ** 2).reduce((x, y) => x + y) / a.length;

describe('SINQ Sinkhorn iteration (methods.md §2.2)', () => {
  it('2×2 hand case: I = 4, then one clamped step gives I = 3', () => {
    // W = [[1,3],[2,6]]: σ_row = √2, 2√2; σ_col = √2/2, 3√2/2 → I = 4, τ = √2/2. Steps: col ×[1, 2] (3 clamped to
    // 2), row ×[2, 2] (4 clamped to 2) → Ŵ = [[0.5, 0.75], [1, 1.5]]: σ_row = 0.177, 0.354; σ_col = 0.354, 0.530 → I = 3.
    const r = sinkhornLog([1, 3, 2, 6], 2, 2, 2);
    expect(r.trace[0]).toBeCloseTo(4, 5);
    expect(r.trace[1]).toBeCloseTo(3, 4);
    expect(r.bestIndex).toBe(1);
    expect(Array.from(r.colScale).map((v) => +v.toFixed(5))).toEqual([1, 2]);
    expect(Array.from(r.rowScale).map((v) => +v.toFixed(5))).toEqual([2, 2]);
  });

  it('worked example: imbalance falls, the outlier column and row get the largest scales, best iterate returned', () => {
    const w = workedExample();
    const r = sinkhornLog(w, 6, 8);
    expect(r.trace).toHaveLength(16);
    expect(r.trace[0]).toBeCloseTo(imbalance(w, 6, 8), 10);
    const best = r.trace[r.bestIndex]!;
    expect(best).toBeLessThan(r.trace[0]! / 2);
    expect(Math.min(...r.trace)).toBe(best);
    // Non-increasing up to the best iterate.
    for (let i = 1; i <= r.bestIndex; i++) expect(r.trace[i]!).toBeLessThanOrEqual(r.trace[i - 1]!);
    // Sticky freeze: after the first rise nothing updates, so every later evaluation sees the same matrix.
    const rise = r.trace.findIndex((v, i) => i > 0 && v > Math.min(...r.trace.slice(0, i)));
    if (rise > 0) for (let i = rise; i < r.trace.length; i++) expect(r.trace[i]).toBe(r.trace[rise]);
    // The returned scales are those of the best iterate.
    const hat = Float64Array.from(w, (v, i) => v / r.colScale[i % 8]! / r.rowScale[Math.floor(i / 8)]!);
    expect(imbalance(hat, 6, 8)).toBeCloseTo(best, 8);
    expect(r.colScale.indexOf(Math.max(...r.colScale))).toBe(5);
    expect(r.rowScale.indexOf(Math.max(...r.rowScale))).toBe(2);
    // Log-scale clip: every scale within [e^−0.3, e^10].
    for (const s of [...r.colScale, ...r.rowScale]) expect(s).toBeGreaterThanOrEqual(Math.exp(-0.3) - 1e-12);
  });

  it('worked example: 3-bit per-row RTN weight MSE is lower after SINQ normalization (§2.4: 0.0534 → 0.0443 on theirs)', () => {
    const w = workedExample();
    const r = sinkhornLog(w, 6, 8);
    const hat = Float64Array.from(w, (v, i) => v / r.colScale[i % 8]! / r.rowScale[Math.floor(i / 8)]!);
    const back = Float64Array.from(rowRtn(hat, 6, 8, 3), (v, i) => v * r.colScale[i % 8]! * r.rowScale[Math.floor(i / 8)]!);
    const plain = rowRtn(w, 6, 8, 3);
    expect(mse(back, w)).toBeLessThan(mse(plain, w));
  });
});

describe('quantizeSinq (1-D tiling, asymmetric codes)', () => {
  const rows = 48;
  const cols = 128;
  const w = gaussian(11, rows * cols);
  for (let r = 0; r < rows; r++) w[r * cols + 70] = w[r * cols + 70]! * 8; // one outlier input channel
  w[5 * cols + 3] = 9;

  it('s·(Q − z)·t reproduces W within one step s·t per element, t per input column', () => {
    const q = quantizeSinq(w, rows, cols, { bits: 4, group: 64 });
    expect(q.colScale).toHaveLength(cols);
    expect(q.traces).toHaveLength(2);
    const back = dequantizeGroups(q.quant, q.colScale);
    for (let i = 0; i < w.length; i++) {
      const s = q.quant.scales[Math.floor(i / cols) * 2 + Math.floor((i % cols) / 64)]!;
      expect(Math.abs(back[i]! - w[i]!)).toBeLessThanOrEqual(s * q.colScale[i % cols]! * (1 + 1e-4));
    }
    // The outlier channel is scaled down most within its slab.
    const slab = Array.from(q.colScale.subarray(64, 128));
    expect(slab.indexOf(Math.max(...slab))).toBe(70 - 64);
  });

  it('each tile ends less imbalanced than it started', () => {
    const q = quantizeSinq(w, rows, cols, { bits: 3, group: 64 });
    for (const { trace, bestIndex } of q.traces) expect(trace[bestIndex]!).toBeLessThan(trace[0]!);
  });

  it('lower weight MSE than RTN at 3 bits on a matrix with an outlier channel', () => {
    const sinq = dequantizeGroups(quantizeSinq(w, rows, cols, { bits: 3, group: 64 }).quant, quantizeSinq(w, rows, cols, { bits: 3, group: 64 }).colScale);
    const rtn = dequantizeGroups(quantizeRtn(w, rows, cols, { bits: 3, group: 64 }));
    expect(mse(sinq, w)).toBeLessThan(mse(rtn, w));
  });

  it('kurtosis gate (off by default) sends a heavy-tailed layer to plain RTN with t = 1', () => {
    expect(kurtosis(w)).toBeGreaterThan(5);
    const gated = quantizeSinq(w, rows, cols, { bits: 4, kurtosisGate: true });
    expect(gated.gated).toBe(true);
    expect(Array.from(gated.colScale).every((t) => t === 1)).toBe(true);
    expect(Array.from(gated.quant.codes)).toEqual(Array.from(quantizeRtn(w, rows, cols, { bits: 4, group: 64 }).codes));
    expect(quantizeSinq(w, rows, cols, { bits: 4 }).gated).toBe(false);
  });

  it('kurtosis is 3-ish for Gaussian data and 1 for ±1', () => {
    expect(kurtosis(gaussian(3, 20000))).toBeCloseTo(3, 0);
    expect(kurtosis([1, -1, 1, -1])).toBe(1);
  });
});
