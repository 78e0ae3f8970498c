// Pre-SINQ ("no-overhead" SINQ, methods.md §2.3; the repo's presinq_gguf.py): for every group of linears that read
// the same input, one Sinkhorn column scale t is computed on their row-wise concatenation, normalized by its median,
// multiplied into the producer of that input and divided out of the consumers' columns. The network function is
// unchanged (exactly, up to f32 rounding); any quantizer (GGUF Q4_0, …) then sees better-balanced matrices.
import { sinkhornLog } from './sinq.ts';

/** Repo defaults for pre-SINQ: 4 Sinkhorn iterations, the whole fold repeated 3 times, tiles of 64 columns. */
export const PRESINQ_DEFAULTS = { iterations: 4, repeats: 3, group: 64 } as const;

/** The divisor of `width` closest to `block` (searching block ± i), as the repo's `_find_block`. */
export function findBlock(width: number, block: number): number {
  if (width % block === 0) return block;
  for (let i = 0; i < block; i++) {
    if (block + i <= width && width % (block + i) === 0) return block + i;
    if (block - i >= 1 && width % (block - i) === 0) return block - i;
  }
  return 1;
}

/** torch.median: the lower of the two middle values for an even count. */
export function lowerMedian(values: ArrayLike<number>): number {
  const sorted = Float64Array.from(values).sort();
  return sorted[(sorted.length - 1) >> 1]!;
}

/**
 * One t for matrices that share an input of width `cols` (each row-major [rows_i, cols]): rows concatenated, columns
 * cut into tiles of findBlock(cols, group), Sinkhorn column scales per tile, concatenated and divided by the median.
 */
export function sharedColumnScale(matrices: readonly { values: Float32Array; rows: number }[], cols: number, group: number, iterations: number): Float64Array {
  const totalRows = matrices.reduce((n, m) => n + m.rows, 0);
  const block = findBlock(cols, group);
  const t = new Float64Array(cols);
  const tile = new Float64Array(totalRows * block);
  for (let c0 = 0; c0 < cols; c0 += block) {
    let r = 0;
    for (const m of matrices) {
      for (let i = 0; i < m.rows; i++, r++) for (let e = 0; e < block; e++) tile[r * block + e] = m.values[i * cols + c0 + e]!;
    }
    t.set(sinkhornLog(tile, totalRows, block, iterations).colScale, c0);
  }
  const median = lowerMedian(t);
  return t.map((v) => v / median);
}

/** A weight the fold edits in place: row-major [rows, cols] values. */
export interface FoldMatrix {
  readonly values: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/** One input shared by `consumers` (whose columns are divided by t) and produced through `producer`. */
export interface FoldGroup {
  readonly consumers: readonly FoldMatrix[];
  /** An RMSNorm weight [cols] (multiplied elementwise by t) or a matrix whose rows produce the input (row j × t_j). */
  readonly producer: { readonly kind: 'norm'; readonly values: Float32Array } | { readonly kind: 'rows'; readonly matrix: FoldMatrix };
}

/** Divides consumer columns by t and multiplies the producer by t, in place. */
export function applyFold(group: FoldGroup, t: ArrayLike<number>): void {
  for (const m of group.consumers) {
    for (let r = 0; r < m.rows; r++) for (let c = 0; c < m.cols; c++) m.values[r * m.cols + c] = m.values[r * m.cols + c]! / t[c]!;
  }
  const p = group.producer;
  if (p.kind === 'norm') {
    for (let c = 0; c < p.values.length; c++) p.values[c] = p.values[c]! * t[c]!;
  } else {
    const { values, cols } = p.matrix;
    for (let r = 0; r < p.matrix.rows; r++) for (let c = 0; c < cols; c++) values[r * cols + c] = values[r * cols + c]! * t[r]!;
  }
}

export interface PreSinqOptions {
  readonly group?: number;
  readonly iterations?: number;
  readonly repeats?: number;
}

/**
 * Folds pre-SINQ scales into every group, `repeats` times (each round recomputes t on the already-folded weights).
 * Returns the accumulated t per group (product over rounds), for diagnostics.
 */
export function foldPreSinq(groups: readonly FoldGroup[], options: PreSinqOptions = {}): Float64Array[] {
  const { group = PRESINQ_DEFAULTS.group, iterations = PRESINQ_DEFAULTS.iterations, repeats = PRESINQ_DEFAULTS.repeats } = options;
  const total = groups.map((g) => new Float64Array(g.consumers[0]!.cols).fill(1));
  for (let round = 0; round < repeats; round++) {
    groups.forEach((g, i) => {
      const cols = g.consumers[0]!.cols;
      if (g.consumers.some((m) => m.cols !== cols)) throw new RangeError('foldPreSinq: consumers of one input disagree on its width');
      const t = sharedColumnScale(g.consumers, cols, group, iterations);
      applyFold(g, t);
      t.forEach((v, c) => { total[i]![c]! *= v; });
    });
  }
  return total;
}
