// Group quantization of a weight matrix W [rows = out_features, cols = in_features] along the input dimension:
// every `group` consecutive columns of a row share one scale s and zero point z, and w ≈ s·(q − z) with the code q
// in 0..2^bits − 1. RTN (round to nearest) is the baseline; SINQ (sinq.ts) produces the same representation from a
// Sinkhorn-normalized matrix plus a per-column scale t.
import { roundHalfEven } from './round.ts';

/** Code widths the quantizers accept. */
export type QuantBits = 2 | 3 | 4 | 5 | 6 | 7 | 8;
/** Scale group sizes along the input dimension. */
export type QuantGroup = 32 | 64 | 128;

export const QUANT_BITS: readonly QuantBits[] = [2, 3, 4, 5, 6, 7, 8];
export const QUANT_GROUPS: readonly QuantGroup[] = [32, 64, 128];

/** W ≈ s·(q − z) per (row, group); codes one per element (a byte each: bits ≤ 8). */
export interface GroupQuantized {
  readonly rows: number;
  readonly cols: number;
  readonly bits: QuantBits;
  readonly group: QuantGroup;
  /** Codes 0..2^bits − 1, row-major [rows, cols]. */
  readonly codes: Uint8Array<ArrayBuffer>;
  /** Scale per (row, group), row-major [rows, cols/group]. */
  readonly scales: Float32Array<ArrayBuffer>;
  /** Zero point per (row, group), in code units. */
  readonly zeros: Float32Array<ArrayBuffer>;
}

export interface RtnOptions {
  readonly bits: QuantBits;
  readonly group: QuantGroup;
  /** Symmetric: z = 2^(bits−1) fixed, s = absmax / (2^(bits−1) − 1). Default false (asymmetric min/max). */
  readonly symmetric?: boolean;
}

export function checkGroupShape(rows: number, cols: number, bits: number, group: number): void {
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`quantize: rows ${rows} must be a positive integer`);
  if (!(QUANT_BITS as readonly number[]).includes(bits)) throw new RangeError(`quantize: bits ${bits} not in 2..8`);
  if (!(QUANT_GROUPS as readonly number[]).includes(group)) throw new RangeError(`quantize: group ${group} must be 32, 64 or 128`);
  if (!Number.isInteger(cols) || cols < group || cols % group !== 0) {
    throw new RangeError(`quantize: cols ${cols} is not a positive multiple of the group size ${group}`);
  }
}

/** Whether a [rows, cols] matrix can be group-quantized with `group` (the input width must be whole groups). */
export function groupFits(cols: number, group: number): boolean {
  return cols >= group && cols % group === 0;
}

/**
 * Asymmetric RTN of one group as SINQ's repo does it (methods.md §2.2, last step): s = max(max − min, 1e-4)/(2^b − 1),
 * z = −round(min/s), q = clamp(round(w/s + z), 0, 2^b − 1), round half to even (torch.round), f32 throughout. z is an
 * integer held as a float and is not clamped (a group whose min is > 0 gets z < 0); |w − s(q − z)| ≤ s/2 except where
 * the integer z pushes the group's max past code 2^b − 1, which costs at most another s/2.
 */
function quantizeGroupAsymmetric(w: ArrayLike<number>, base: number, n: number, maxCode: number, codes: Uint8Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let e = 0; e < n; e++) {
    const v = w[base + e]!;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const s = Math.fround(Math.max(hi - lo, 1e-4) / maxCode);
  const z = 0 - roundHalfEven(Math.fround(lo / s)); // 0 − r rather than −r: never a −0 zero point
  for (let e = 0; e < n; e++) codes[base + e] = Math.min(maxCode, Math.max(0, roundHalfEven(Math.fround(w[base + e]! / s) + z)));
  return [s, z];
}

/** Symmetric RTN: q − z ∈ [−(2^(b−1) − 1), 2^(b−1) − 1] with z = 2^(b−1), s = max(absmax, 1e-8)/(2^(b−1) − 1). */
function quantizeGroupSymmetric(w: ArrayLike<number>, base: number, n: number, bits: number, codes: Uint8Array): [number, number] {
  let amax = 0;
  for (let e = 0; e < n; e++) amax = Math.max(amax, Math.abs(w[base + e]!));
  const half = 1 << (bits - 1);
  const s = Math.fround(Math.max(amax, 1e-8) / (half - 1));
  for (let e = 0; e < n; e++) codes[base + e] = Math.min(2 * half - 1, Math.max(1, roundHalfEven(Math.fround(w[base + e]! / s)) + half));
  return [s, half];
}

/** Round-to-nearest group quantization of W [rows, cols] (row-major). Non-finite weights are rejected. */
export function quantizeRtn(w: ArrayLike<number>, rows: number, cols: number, options: RtnOptions): GroupQuantized {
  const { bits, group, symmetric = false } = options;
  checkGroupShape(rows, cols, bits, group);
  if (w.length !== rows * cols) throw new RangeError(`quantizeRtn: ${w.length} values for ${rows}×${cols}`);
  for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i]!)) throw new RangeError(`quantizeRtn: non-finite weight at row ${Math.floor(i / cols)}, col ${i % cols}`);
  const groupsPerRow = cols / group;
  const codes = new Uint8Array(rows * cols);
  const scales = new Float32Array(rows * groupsPerRow);
  const zeros = new Float32Array(rows * groupsPerRow);
  const maxCode = (1 << bits) - 1;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groupsPerRow; g++) {
      const base = r * cols + g * group;
      const [s, z] = symmetric ? quantizeGroupSymmetric(w, base, group, bits, codes) : quantizeGroupAsymmetric(w, base, group, maxCode, codes);
      scales[r * groupsPerRow + g] = s;
      zeros[r * groupsPerRow + g] = z;
    }
  }
  return { rows, cols, bits, group, codes, scales, zeros };
}

/** s·(q − z) per element (f32), optionally times a per-column scale t (SINQ's dual scale). */
export function dequantizeGroups(q: GroupQuantized, columnScale?: Float32Array): Float32Array<ArrayBuffer> {
  if (columnScale && columnScale.length !== q.cols) throw new RangeError(`dequantizeGroups: t has ${columnScale.length} entries, cols is ${q.cols}`);
  const out = new Float32Array(q.rows * q.cols);
  const groupsPerRow = q.cols / q.group;
  for (let r = 0; r < q.rows; r++) {
    for (let c = 0; c < q.cols; c++) {
      const g = r * groupsPerRow + Math.floor(c / q.group);
      const v = q.scales[g]! * (q.codes[r * q.cols + c]! - q.zeros[g]!);
      out[r * q.cols + c] = columnScale ? v * columnScale[c]! : v;
    }
  }
  return out;
}
