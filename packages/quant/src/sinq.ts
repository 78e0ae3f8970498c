// SINQ — Sinkhorn-Normalized Quantization (methods.md §2): W ≈ s·(Q − z)·t with per-(row, group) s, z and one
// per-input-column scale t, found by the dampened log-space Sinkhorn iteration of the SINQ repo's `sinkhorn_log`,
// run per 1-D tile (all rows × `group` columns). Everything is f64 here (the repo computes in f32; the auto-round
// port in f64 — the difference is far below the quantization step) and the stored s, z, t are f32.
import { checkGroupShape, type GroupQuantized, type QuantBits, type QuantGroup } from './groups.ts';
import { roundHalfEven } from './round.ts';

/** Repo constants (`sinkhorn_log`, methods.md §2.2). */
export const SINKHORN = {
  iterations: 16,
  stdClampMin: 1e-3,
  stdClampMax: 1e3,
  targetEps: 1e-6,
  stepMin: 0.7,
  stepMax: 2.0,
  logScaleMin: -0.3,
  logScaleMax: 10,
  /** Kurtosis gate threshold (non-excess Pearson kurtosis; Gaussian = 3). */
  kurtosisGate: 5.0,
} as const;

/** Unbiased (N − 1) standard deviation of n values at base + i·stride (torch.std default). */
function std(m: Float64Array, base: number, n: number, stride: number): number {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += m[base + i * stride]!;
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = m[base + i * stride]! - mean;
    ss += d * d;
  }
  return Math.sqrt(ss / (n - 1));
}

function rowStds(m: Float64Array, rows: number, cols: number): Float64Array {
  return Float64Array.from({ length: rows }, (_, r) => std(m, r * cols, cols, 1));
}

function colStds(m: Float64Array, rows: number, cols: number): Float64Array {
  return Float64Array.from({ length: cols }, (_, c) => std(m, c, rows, cols));
}

/** I(W) = max(max σ_row, max σ_col) / min(min σ_row, min σ_col), the denominator clamped to ≥ 1e-12 as in the repo. */
export function imbalance(m: ArrayLike<number>, rows: number, cols: number): number {
  const w = Float64Array.from(m);
  const sr = rowStds(w, rows, cols);
  const sc = colStds(w, rows, cols);
  const hi = Math.max(...sr, ...sc);
  const lo = Math.max(Math.min(...sr, ...sc), 1e-12);
  return hi / lo;
}

export interface SinkhornResult {
  /** Column scales t = exp(v_best), length cols. */
  readonly colScale: Float64Array;
  /** Row scales μ = exp(u_best), length rows. */
  readonly rowScale: Float64Array;
  /** I(Ŵ) at each of the `iterations` evaluations (the first is I(W)). */
  readonly trace: number[];
  /** Index into trace of the returned (best) iterate. */
  readonly bestIndex: number;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * The dampened log-space Sinkhorn iteration (methods.md §2.2): simultaneous row and column updates, each a
 * multiplicative step clamped to ×[0.7, 2.0] toward the smallest std τ, log scales clipped to [−0.3, 10], the best
 * iterate kept with `<=`, and updates frozen for good once the imbalance rises above the best (sticky).
 */
export function sinkhornLog(w: ArrayLike<number>, rows: number, cols: number, iterations: number = SINKHORN.iterations): SinkhornResult {
  if (rows < 2 || cols < 2) throw new RangeError(`sinkhornLog: needs at least 2×2 (got ${rows}×${cols}) for an unbiased std`);
  const m = Float64Array.from(w);
  const K = SINKHORN;
  const clampStd = (s: number) => clamp(s, K.stdClampMin, K.stdClampMax);
  const tau = Math.min(Math.min(...Array.from(rowStds(m, rows, cols), clampStd)), Math.min(...Array.from(colStds(m, rows, cols), clampStd))) + K.targetEps;
  const u = new Float64Array(rows);
  const v = new Float64Array(cols);
  let best = { imb: imbalance(m, rows, cols), u: u.slice(), v: v.slice(), index: 0 };
  let frozen = false;
  const trace: number[] = [];
  const cur = new Float64Array(rows * cols);
  for (let it = 0; it < iterations; it++) {
    for (let r = 0; r < rows; r++) {
      const er = Math.exp(u[r]!);
      for (let c = 0; c < cols; c++) cur[r * cols + c] = m[r * cols + c]! / Math.exp(v[c]!) / er;
    }
    const sr = rowStds(cur, rows, cols);
    const sc = colStds(cur, rows, cols);
    const imb = Math.max(...sr, ...sc) / Math.max(Math.min(...sr, ...sc), 1e-12);
    trace.push(imb);
    if (imb <= best.imb) best = { imb, u: u.slice(), v: v.slice(), index: it };
    if (imb > best.imb) frozen = true;
    if (frozen) continue;
    const step = (s: number) => Math.log(clamp(clampStd(s) / tau, K.stepMin, K.stepMax));
    for (let c = 0; c < cols; c++) v[c] = clamp(v[c]! + step(sc[c]!), K.logScaleMin, K.logScaleMax);
    for (let r = 0; r < rows; r++) u[r] = clamp(u[r]! + step(sr[r]!), K.logScaleMin, K.logScaleMax);
  }
  return { colScale: best.v.map(Math.exp), rowScale: best.u.map(Math.exp), trace, bestIndex: best.index };
}

/** Pearson kurtosis E[(w − μ)^4]/σ^4 (non-excess, population moments) of all values. */
export function kurtosis(w: ArrayLike<number>): number {
  let mean = 0;
  for (let i = 0; i < w.length; i++) mean += w[i]!;
  mean /= w.length;
  let m2 = 0;
  let m4 = 0;
  for (let i = 0; i < w.length; i++) {
    const d = (w[i]! - mean) ** 2;
    m2 += d;
    m4 += d * d;
  }
  m2 /= w.length;
  m4 /= w.length;
  return m2 > 0 ? m4 / (m2 * m2) : 0;
}

export interface SinqOptions {
  readonly bits: QuantBits;
  /** 1-D tile width and scale group along the input dimension (default 64). */
  readonly group?: QuantGroup;
  /** Sinkhorn iterations per tile (default 16). */
  readonly iterations?: number;
  /** Fall back to plain RTN (t = 1) when the layer's kurtosis exceeds 5 (repo commit 5953fa1). Default false. */
  readonly kurtosisGate?: boolean;
}

export interface SinqQuantized {
  /** Asymmetric group codes of Ŵ = W/t: W ≈ s·(Q − z)·t with s already multiplied by the row scale μ. */
  readonly quant: GroupQuantized;
  /** Per-input-column scale t (f32), applied to the activation once: x·Wᵀ = (x ⊙ t)·[s(Q − z)]ᵀ. */
  readonly colScale: Float32Array<ArrayBuffer>;
  /** True when the kurtosis gate sent the layer to plain RTN (t = 1, μ = 1). */
  readonly gated: boolean;
  /** Imbalance trace of each tile's iteration (for diagnostics and tests). */
  readonly traces: { trace: number[]; bestIndex: number }[];
}

/**
 * SINQ with 1-D tiling (methods.md §2.3): each slab of `group` columns (all rows) gets its own Sinkhorn scales; t is
 * the concatenation of the slabs' column scales, μ (per row and slab) is folded into the group scale: for every row
 * r of slab g, Ŵ = W/t/μ_r is RTN-quantized (s' = max(max − min, 1e-4)/(2^b − 1), z = −round(min/s')), then s = s'·μ_r.
 * The tile is the scale group, so each (row, group) has exactly one (s, z), as in the repo's 1-D mode.
 */
export function quantizeSinq(w: ArrayLike<number>, rows: number, cols: number, options: SinqOptions): SinqQuantized {
  return quantizeSinqShared([{ values: w, rows }], cols, options)[0]!;
}

/**
 * SINQ for linears that read the same input (q|k|v, gate|up): the Sinkhorn iteration of each slab runs on the rows
 * of all of them concatenated (as pre-SINQ's shared scales, methods.md §2.3), so they get one t — applied to the
 * input once at run time — while each row keeps its own μ and RTN. With one matrix this is the paper's SINQ.
 */
export function quantizeSinqShared(matrices: readonly { values: ArrayLike<number>; rows: number }[], cols: number, options: SinqOptions): SinqQuantized[] {
  const { bits, group = 64, iterations = SINKHORN.iterations, kurtosisGate = false } = options;
  const rows = matrices.reduce((n, m) => n + m.rows, 0);
  for (const m of matrices) {
    checkGroupShape(m.rows, cols, bits, group);
    if (m.values.length !== m.rows * cols) throw new RangeError(`quantizeSinq: ${m.values.length} values for ${m.rows}×${cols}`);
    for (let i = 0; i < m.values.length; i++) if (!Number.isFinite(m.values[i]!)) throw new RangeError(`quantizeSinq: non-finite weight at row ${Math.floor(i / cols)}, col ${i % cols}`);
  }
  const w = new Float64Array(rows * cols);
  let at = 0;
  for (const m of matrices) for (let i = 0; i < m.values.length; i++) w[at++] = m.values[i]!;
  const gated = kurtosisGate && kurtosis(w) > SINKHORN.kurtosisGate;
  const groupsPerRow = cols / group;
  const maxCode = (1 << bits) - 1;
  const codes = new Uint8Array(rows * cols);
  const scales = new Float32Array(rows * groupsPerRow);
  const zeros = new Float32Array(rows * groupsPerRow);
  const colScale = new Float32Array(cols).fill(1);
  const traces: { trace: number[]; bestIndex: number }[] = [];
  const tile = new Float64Array(rows * group);
  for (let g = 0; g < groupsPerRow; g++) {
    for (let r = 0; r < rows; r++) for (let e = 0; e < group; e++) tile[r * group + e] = w[r * cols + g * group + e]!;
    let mu: ArrayLike<number> = new Float64Array(rows).fill(1);
    if (!gated && rows >= 2) {
      const sk = sinkhornLog(tile, rows, group, iterations);
      for (let e = 0; e < group; e++) colScale[g * group + e] = sk.colScale[e]!;
      mu = sk.rowScale;
      traces.push({ trace: sk.trace, bestIndex: sk.bestIndex });
    }
    for (let r = 0; r < rows; r++) {
      // Ŵ against the stored f32 t, so dequantization s·(Q − z)·t reproduces the value that was rounded.
      let lo = Infinity;
      let hi = -Infinity;
      const hat = new Float64Array(group);
      for (let e = 0; e < group; e++) {
        const h = tile[r * group + e]! / colScale[g * group + e]! / mu[r]!;
        hat[e] = h;
        lo = Math.min(lo, h);
        hi = Math.max(hi, h);
      }
      const sPrime = Math.max(hi - lo, 1e-4) / maxCode;
      const z = 0 - roundHalfEven(lo / sPrime); // 0 − r rather than −r: never a −0 zero point
      for (let e = 0; e < group; e++) codes[r * cols + g * group + e] = clamp(roundHalfEven(hat[e]! / sPrime + z), 0, maxCode);
      scales[r * groupsPerRow + g] = sPrime * mu[r]!;
      zeros[r * groupsPerRow + g] = z;
    }
  }
  // Split the concatenated rows back into one result per matrix, all sharing t.
  let row = 0;
  return matrices.map((m) => {
    const [r0, r1] = [row, (row += m.rows)];
    const quant = {
      rows: m.rows, cols, bits, group,
      codes: codes.slice(r0 * cols, r1 * cols),
      scales: scales.slice(r0 * groupsPerRow, r1 * groupsPerRow),
      zeros: zeros.slice(r0 * groupsPerRow, r1 * groupsPerRow),
    };
    return { quant, colScale: Float32Array.from(colScale), gated, traces };
  });
}
