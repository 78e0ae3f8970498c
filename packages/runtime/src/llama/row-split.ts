// Matrices larger than one storage binding (maxStorageBufferBindingSize: 128 MiB on lavapipe, Android and by default)
// are stored as several row ranges, each uploaded as its own weight: Llama-3.2-1B's tied 128256 × 2048 table is
// 262 MiB in Q8_0. The output projection runs one GEMV per piece into its column range of the logits; the embedding
// gather runs one gather per piece, each seeing only the ids of its own rows (offset_ids), summed into x.
import { lutFromTensor, QUANT_BLOCK, repack, type QuantTypeName } from '@qgpu/formats';
import type { GpuTensor, PlanBuilder } from '@qgpu/gpu';
import * as kernels from '@qgpu/shaders';
import { addInPlace, embed, linear, type Int8Activations, type LutActivations } from '../ops.ts';
import { uploadWeight, weightTensors, type LutOptions, type Weight } from './weight.ts';

/** A [rows, cols] matrix as consecutive row ranges; one piece when the whole matrix fits in a binding. */
export interface RowSplitWeight {
  readonly rows: number;
  readonly cols: number;
  readonly pieces: readonly { readonly firstRow: number; readonly weight: Weight }[];
}

/**
 * Piece heights are multiples of this many rows, so a piece's first logit (firstRow · 4 bytes into an f32 row) sits
 * on the 256-byte storage-offset alignment WebGPU requires of a binding offset.
 */
export const ROW_SPLIT_ALIGN_ROWS = 64;

type StoredType = 'F32' | 'F16' | QuantTypeName;

/** Byte length of each GPU part a matrix of `rows` rows becomes (the layout uploadWeight produces). */
function gpuPartBytes(type: StoredType, bytes: Uint8Array, rows: number, cols: number, lut: LutOptions | undefined): number[] {
  if (lut && cols % lut.group === 0) {
    const w = lutFromTensor(type, bytes, rows, cols, lut.bits, lut.group);
    return [w.planes.byteLength, w.scales.byteLength, w.zeros.byteLength];
  }
  if (type === 'F32') return [rows * cols * 4];
  if (type === 'F16') return [Math.ceil((rows * cols) / 2) * 4];
  return Object.values(repack(type, bytes, rows * cols).parts).map((p) => p.byteLength);
}

/** File bytes of one row (every supported type stores whole blocks per row). */
export function fileRowBytes(type: StoredType, cols: number): number {
  if (type === 'F32') return cols * 4;
  if (type === 'F16') return cols * 2;
  const block = QUANT_BLOCK[type];
  return (cols / block.elements) * block.bytes;
}

/**
 * Rows per piece so that every GPU part of a piece stays within `limitBytes`: the largest part's bytes per row is
 * measured on a sample of ROW_SPLIT_ALIGN_ROWS rows converted on the CPU, then the height is rounded down to the
 * alignment. Returns `rows` when the whole matrix fits.
 */
export function rowsPerPiece(type: StoredType, bytes: Uint8Array, rows: number, cols: number, limitBytes: number, lut?: LutOptions): number {
  const sample = Math.min(rows, ROW_SPLIT_ALIGN_ROWS);
  const sampleBytes = bytes.subarray(0, sample * fileRowBytes(type, cols));
  const perRow = Math.max(...gpuPartBytes(type, sampleBytes, sample, cols, lut)) / sample;
  if (perRow * rows <= limitBytes) return rows;
  const height = Math.floor(limitBytes / perRow / ROW_SPLIT_ALIGN_ROWS) * ROW_SPLIT_ALIGN_ROWS;
  if (height < ROW_SPLIT_ALIGN_ROWS) {
    throw new Error(`a ${cols}-wide ${type} matrix needs ${perRow} bytes per row: ${ROW_SPLIT_ALIGN_ROWS} rows exceed the binding limit of ${limitBytes} bytes`);
  }
  return height;
}

/** Uploads a [rows, cols] matrix, split into row ranges when a part would exceed `limitBytes`. */
export function uploadRowSplit(
  device: GPUDevice, name: string, type: StoredType, bytes: Uint8Array, rows: number, cols: number, limitBytes: number, lut?: LutOptions,
): RowSplitWeight {
  const height = rowsPerPiece(type, bytes, rows, cols, limitBytes, lut);
  const rowBytes = fileRowBytes(type, cols);
  const pieces: { firstRow: number; weight: Weight }[] = [];
  for (let firstRow = 0; firstRow < rows; firstRow += height) {
    const n = Math.min(height, rows - firstRow);
    const label = height === rows ? name : `${name}[${firstRow}:${firstRow + n}]`;
    const weight = uploadWeight(device, label, type, bytes.subarray(firstRow * rowBytes, (firstRow + n) * rowBytes), n, cols, lut);
    const over = weightTensors(weight).find((t) => t.byteLength > limitBytes);
    if (over) throw new Error(`${label}: part ${over.label} is ${over.byteLength} bytes, over the binding limit of ${limitBytes}`);
    pieces.push({ firstRow, weight });
  }
  return { rows, cols, pieces };
}

/** A row window of a tensor (byte offset must meet the device's storage-offset alignment, checked at build). */
function window(t: GpuTensor, byteOffset: number, shape: readonly number[]): GpuTensor {
  const elementBytes = t.dtype === 'f16' ? 2 : 4;
  const byteLength = shape.reduce((a, b) => a * b, 1) * elementBytes;
  if (byteOffset + byteLength > t.byteLength) throw new Error(`${t.label}: window [${byteOffset}, +${byteLength}) is outside the tensor`);
  return { ...t, byteOffset: t.byteOffset + byteOffset, byteLength, shape };
}

/**
 * out[t] = table[tokens[t]] over a split table. Piece 0 gathers straight into `out` (zeros for ids outside it);
 * every other piece gathers its ids (tokens − firstRow, computed on the GPU into `idsScratch`) into `rowsScratch`,
 * which is added to `out`: exactly one piece contributes a non-zero row per token, so the sum is exact.
 */
export function embedSplit(
  p: PlanBuilder, table: RowSplitWeight, tokens: GpuTensor, out: GpuTensor, nTokens: number, idsScratch: GpuTensor, rowsScratch: GpuTensor,
): void {
  const [first, ...rest] = table.pieces;
  embed(p, first!.weight, tokens, out, nTokens);
  for (const { firstRow, weight } of rest) {
    p.dispatch(kernels.offset_ids, {
      params: { n: nTokens, first_id: firstRow },
      bindings: { tokens, out: idsScratch },
      workgroups: [Math.ceil(nTokens / kernels.offset_ids.overrides.WG_SIZE)],
    });
    embed(p, weight, idsScratch, rowsScratch, nTokens);
    addInPlace(p, out, rowsScratch, nTokens * table.cols);
  }
}

/**
 * out[t] = W · x[t] over a split W: each piece writes its rows' column range of out. One token: one GEMV per piece.
 * Several tokens and several pieces (all-rows logits): one GEMV per token and piece on row windows, in f32 (int8 or
 * LUT inputs are laid out per chunk and cannot be windowed), which LUT pieces cannot do.
 */
export function linearSplit(
  p: PlanBuilder, w: RowSplitWeight, x: GpuTensor, out: GpuTensor, nTokens: number, label: string, x8?: Int8Activations, xl?: LutActivations,
): void {
  if (w.pieces.length === 1) return linear(p, w.pieces[0]!.weight, x, out, nTokens, label, x8, xl);
  const alignment = p.ctx.device.limits.minStorageBufferOffsetAlignment;
  if (nTokens > 1 && (w.cols * 4) % alignment !== 0) {
    throw new Error(`${label}: all-rows logits over a split matrix need rows of x on ${alignment}-byte offsets, but cols = ${w.cols}`);
  }
  for (let t = 0; t < nTokens; t++) {
    const xRow = nTokens === 1 ? x : window(x, t * w.cols * 4, [1, w.cols]);
    for (const { firstRow, weight } of w.pieces) {
      if (nTokens > 1 && weight.format === 'lut') throw new Error(`${label}: all-rows logits over a split LUT matrix are not supported`);
      const outPiece = window(out, (t * w.rows + firstRow) * 4, [1, weight.rows]);
      const pieceLabel = `${label}[${firstRow}]${nTokens > 1 ? `.t${t}` : ''}`;
      if (nTokens === 1) linear(p, weight, xRow, outPiece, 1, pieceLabel, x8, xl);
      else linear(p, weight, xRow, outPiece, 1, pieceLabel);
    }
  }
}
