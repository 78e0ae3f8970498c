// Fusions of the decode plan (docs/performance.md "Fusions"): fewer dispatches per layer, each switchable.
//   qkv      W_qkv = [Wq; Wk; Wv] stacked by rows at load; one linear writes q, k, v through the 'split' epilogue.
//   gateUp   W_gu = rows of w_gate and w_up interleaved (gate_0, up_0, gate_1, …) at load; one linear computes
//            silu(gate)·up through the 'glu' epilogue (no up buffer, no silu_mul dispatch).
//   residual x += Wo·att and x += Wd·h through the linears' 'add' epilogue (no proj store, no add_inplace dispatch).
// Weights are fused on their stored form, before any repacking or LUT conversion: quantized rows are independent
// blocks, so stacking or interleaving whole rows of file bytes (or of group codes) gives an ordinary matrix that
// converts exactly as its parts would. Parts are fused only when that matrix is provably the same linear map on the
// same input: the same stored type, no SINQ column scale (each SINQ linear reads its own x ⊙ t), and the same
// CrossQuant calibration (the fold W·diag(c^(1−α)) is per column, so it commutes with stacking rows only for one c).
import type { SupportedTensorType } from '@qgpu/formats';
import type { GroupQuantized } from '@qgpu/quant';
import type { FuseOptions } from '../engine-api.ts';
import type { LlamaConfig } from './config.ts';
import { fileRowBytes } from './row-split.ts';

/** Which fusions a model is built with (each on by default; LlamaModelOptions.fuse). */
export interface Fusions {
  readonly qkv: boolean;
  readonly gateUp: boolean;
  readonly residual: boolean;
}

/** `fuse` as given (true / undefined: all, false: none, an object: those not set to false). */
export function resolveFusions(fuse: boolean | FuseOptions | undefined): Fusions {
  if (fuse === undefined || typeof fuse === 'boolean') {
    const on = fuse ?? true;
    return { qkv: on, gateUp: on, residual: on };
  }
  return { qkv: fuse.qkv ?? true, gateUp: fuse.gateUp ?? true, residual: fuse.residual ?? true };
}

/**
 * One linear as stored, read but not yet converted: file bytes of one GGUF type (with its CrossQuant column absmax
 * when calibrated), or qgpu.quant group codes (with SINQ's column scale t when it has one).
 */
export type StoredMatrix = { readonly rows: number; readonly cols: number } & (
  | { readonly kind: 'blocks'; readonly type: SupportedTensorType; readonly bytes: Uint8Array; readonly columnAbsMax?: Float32Array }
  | { readonly kind: 'groups'; readonly quant: GroupQuantized; readonly colScale?: Float32Array }
);

const sameValues = (a: Float32Array | undefined, b: Float32Array | undefined) =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((v, i) => v === b[i]));

/** Why `parts` cannot become one matrix, or undefined when they can (module comment: the conditions). */
export function fusionBlocker(parts: readonly StoredMatrix[]): string | undefined {
  const [first, ...rest] = parts;
  if (!first) return 'no parts';
  if (rest.some((m) => m.cols !== first.cols)) return 'different input widths';
  if (first.kind === 'groups') {
    if (parts.some((m) => m.kind === 'groups' && m.colScale)) return 'SINQ column scales (each linear reads its own x ⊙ t)';
    const other = rest.find((m) => m.kind !== 'groups' || m.quant.bits !== first.quant.bits || m.quant.group !== first.quant.group);
    return other ? 'different stored formats' : undefined;
  }
  if (rest.some((m) => m.kind !== 'blocks' || m.type !== first.type)) return 'different stored types';
  if (rest.some((m) => m.kind === 'blocks' && !sameValues(m.columnAbsMax, first.columnAbsMax))) return 'different CrossQuant calibrations';
  return undefined;
}

/** Elements per row of each array of a matrix's stored form, in the order storedArrays lists them. */
function storedArrays(m: StoredMatrix): { arrays: (Uint8Array | Float32Array)[]; perRow: number[] } {
  if (m.kind === 'blocks') return { arrays: [m.bytes], perRow: [fileRowBytes(m.type, m.cols)] };
  const groups = m.cols / m.quant.group;
  return { arrays: [m.quant.codes, m.quant.scales, m.quant.zeros], perRow: [m.cols, groups, groups] };
}

/** A matrix whose row r is row `source[r].row` of part `source[r].part`; parts passed fusionBlocker. */
function gatherRows(parts: readonly StoredMatrix[], rows: number, source: (r: number) => { part: number; row: number }): StoredMatrix {
  const blocker = fusionBlocker(parts);
  if (blocker) throw new Error(`cannot fuse these linears: ${blocker}`);
  const stored = parts.map(storedArrays);
  const { perRow } = stored[0]!;
  const arrays = perRow.map((width, a) => {
    const out = stored[0]!.arrays[a] instanceof Float32Array ? new Float32Array(rows * width) : new Uint8Array(rows * width);
    for (let r = 0; r < rows; r++) {
      const { part, row } = source(r);
      out.set(stored[part]!.arrays[a]!.subarray(row * width, (row + 1) * width), r * width);
    }
    return out;
  });
  const first = parts[0]!;
  const cols = first.cols;
  if (first.kind === 'blocks') {
    const { columnAbsMax } = first;
    return { kind: 'blocks', rows, cols, type: first.type, bytes: arrays[0] as Uint8Array, ...(columnAbsMax ? { columnAbsMax } : {}) };
  }
  const [codes, scales, zeros] = arrays as [Uint8Array<ArrayBuffer>, Float32Array<ArrayBuffer>, Float32Array<ArrayBuffer>];
  return { kind: 'groups', rows, cols, quant: { rows, cols, bits: first.quant.bits, group: first.quant.group, codes, scales, zeros } };
}

/** [A; B; C]: the rows of each part after those of the previous ones (W_qkv). */
export function stackRows(parts: readonly StoredMatrix[]): StoredMatrix {
  const starts = parts.map((_, i) => parts.slice(0, i).reduce((sum, m) => sum + m.rows, 0));
  const rows = parts.reduce((sum, m) => sum + m.rows, 0);
  return gatherRows(parts, rows, (r) => {
    const part = starts.findLastIndex((s) => s <= r);
    return { part, row: r - starts[part]! };
  });
}

/** Rows a_0, b_0, a_1, b_1, …: the glu epilogue's gate/up pairs (W_gu). */
export function interleaveRows(a: StoredMatrix, b: StoredMatrix): StoredMatrix {
  if (a.rows !== b.rows) throw new Error(`cannot interleave ${a.rows} rows with ${b.rows}`);
  return gatherRows([a, b], 2 * a.rows, (r) => ({ part: r % 2, row: r >> 1 }));
}

/**
 * Whether q, k and v can be views of one [n, q_dim] [n, kv_dim] [n, kv_dim] region (the split epilogue's layout) for
 * every plan's token count n: each view's byte offset must be a multiple of the device's binding-offset alignment.
 */
export function qkvRegionAligned(config: Pick<LlamaConfig, 'qDim' | 'kvDim'>, tokenCounts: readonly number[], alignmentBytes: number): boolean {
  return tokenCounts.every((n) => (n * config.qDim * 4) % alignmentBytes === 0 && (n * (config.qDim + config.kvDim) * 4) % alignmentBytes === 0);
}
