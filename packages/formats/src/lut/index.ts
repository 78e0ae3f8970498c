// LUT (T-MAC style, methods.md §5) weight format: b-bit codes (b = 1..8) stored as bit-planes, with an asymmetric
// round-to-nearest scale and zero point per group of G (32 or 64) consecutive columns: w ≈ s·(q − z).
//
// Bit-plane layout (the GPU's, methods.md §5.4; not T-MAC's CPU permutation): for row r, 32-column block k and plane
// i, word `(r·(cols/32) + k)·bits + i` holds in nibble n (bits 4n..4n+3) the table index of the 4 weights at columns
// 32k + 4n + e, e = 0..3: bit e of that nibble is bit i of code q[r, 32k + 4n + e] (element e ↔ index bit e, the
// convention of the tables in @qgpu/reference/lut.ts). A thread reading one 32-column block finds its `bits` words
// contiguous.
import { f16ToF32 } from '../f16.ts';
import { tensorToF32, type SupportedTensorType } from '../tensor-data.ts';

/**
 * Code widths the LUT path supports. T-MAC is bit-serial: each of the b planes is looked up in the same 4-weight
 * tables and weighted by 2^i, so the table format does not depend on b. b = 8 holds Q8_0 exactly (codes q + 128),
 * b = 4 holds Q4_0 exactly; 1..3 are the low-bit widths T-MAC targets.
 */
export type LutBits = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;
/** Every supported width, for checks and tests. */
export const LUT_BITS: readonly LutBits[] = [1, 2, 3, 4, 5, 6, 7, 8];
/** Group sizes along cols; both are multiples of the 32-column plane block, so a group never splits a word. */
export type LutGroup = 32 | 64;

/** A weight matrix [rows, cols] in the LUT format. */
export interface LutWeights {
  readonly rows: number;
  readonly cols: number;
  readonly bits: LutBits;
  readonly group: LutGroup;
  /** rows·(cols/32)·bits words, layout in the file header. */
  readonly planes: Uint32Array<ArrayBuffer>;
  /** Scale s per (row, group), row-major [rows, cols/group]. */
  readonly scales: Float32Array<ArrayBuffer>;
  /** Zero point z per (row, group) in code units (not rounded: RTN maps the group minimum exactly to code 0). */
  readonly zeros: Float32Array<ArrayBuffer>;
}

export function checkLutShape(rows: number, cols: number, bits: number, group: number): void {
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`lut: rows ${rows} must be a positive integer`);
  if (!(LUT_BITS as readonly number[]).includes(bits)) throw new RangeError(`lut: bits ${bits} not in 1..8`);
  if (group !== 32 && group !== 64) throw new RangeError(`lut: group ${group} must be 32 or 64`);
  if (!Number.isInteger(cols) || cols < group || cols % group !== 0) {
    throw new RangeError(`lut: cols ${cols} is not a positive multiple of the group size ${group}`);
  }
}

/**
 * Asymmetric RTN per group: s = (max − min)/(2^b − 1), z = −min/s, q = clamp(round((w − min)/s), 0, 2^b − 1), so
 * |w − s·(q − z)| ≤ s/2 (plus f32 rounding of s and z). A constant group gets s = 1 (any s works: q = 0 and
 * s·(0 − z) = min reproduces it exactly up to f32 rounding). Rounding is half-up (Math.round); the GPU never
 * quantizes weights, so no kernel has to match this rule.
 */
export function quantizeLut(values: Float32Array, rows: number, cols: number, bits: LutBits, group: LutGroup): LutWeights {
  checkLutShape(rows, cols, bits, group);
  if (values.length !== rows * cols) throw new RangeError(`quantizeLut: ${values.length} values for ${rows}×${cols}`);
  const maxCode = (1 << bits) - 1;
  const groupsPerRow = cols / group;
  const blocksPerRow = cols / 32;
  const planes = new Uint32Array(rows * blocksPerRow * bits);
  const scales = new Float32Array(rows * groupsPerRow);
  const zeros = new Float32Array(rows * groupsPerRow);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groupsPerRow; g++) {
      const base = r * cols + g * group;
      let lo = Infinity;
      let hi = -Infinity;
      for (let e = 0; e < group; e++) {
        const v = values[base + e]!;
        if (!Number.isFinite(v)) throw new RangeError(`quantizeLut: non-finite weight at row ${r}, col ${g * group + e}`);
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      const s = Math.fround(hi > lo ? (hi - lo) / maxCode : 1);
      const z = Math.fround(-lo / s);
      scales[r * groupsPerRow + g] = s;
      zeros[r * groupsPerRow + g] = z;
      for (let e = 0; e < group; e++) {
        // Rounding against the stored f32 s and z, so the code is the nearest one for the values dequantize uses.
        const q = Math.min(maxCode, Math.max(0, Math.round(values[base + e]! / s + z)));
        setCode(planes, r, g * group + e, cols, bits, q);
      }
    }
  }
  return { rows, cols, bits, group, planes, scales, zeros };
}

function setCode(planes: Uint32Array, row: number, col: number, cols: number, bits: number, q: number): void {
  const word = (row * (cols / 32) + (col >> 5)) * bits;
  const shift = 4 * ((col & 31) >> 2) + (col & 3);
  for (let i = 0; i < bits; i++) planes[word + i]! |= ((q >> i) & 1) << shift;
}

/** The code q[row, col] read back from the bit-planes. */
export function lutCode(w: LutWeights, row: number, col: number): number {
  const word = (row * (w.cols / 32) + (col >> 5)) * w.bits;
  const shift = 4 * ((col & 31) >> 2) + (col & 3);
  let q = 0;
  for (let i = 0; i < w.bits; i++) q |= ((w.planes[word + i]! >>> shift) & 1) << i;
  return q;
}

/** s·(q − z) for every weight, computed in double and stored as f32. */
export function dequantizeLut(w: LutWeights): Float32Array<ArrayBuffer> {
  const out = new Float32Array(w.rows * w.cols);
  const groupsPerRow = w.cols / w.group;
  for (let r = 0; r < w.rows; r++) {
    for (let c = 0; c < w.cols; c++) {
      const g = r * groupsPerRow + Math.floor(c / w.group);
      out[r * w.cols + c] = w.scales[g]! * (lutCode(w, r, c) - w.zeros[g]!);
    }
  }
  return out;
}

/**
 * The code width the loader converts a stored type to: the exact one for Q8_0 (8) and Q4_0 (4), whose blocks of 32
 * are w = d·(q − z) with an integer code, and 8 for everything else (F32, F16 and the other GGUF types), where RTN
 * at 8 bits per 32 columns adds at most range/510 per weight: finer than the ≤ 6-bit grids of those formats.
 */
export function lutBitsFor(type: SupportedTensorType): LutBits {
  return type === 'Q4_0' ? 4 : 8;
}

/**
 * Converts a stored tensor (F32, F16 or any GGUF block type) to the LUT format. Two conversions are exact, with
 * group 32 (a GGUF block): Q4_0 at 4 bits (w = d·(nibble − 8): s = d, z = 8, q = nibble) and Q8_0 at 8 bits
 * (w = d·q, q ∈ [−128, 127]: s = d, z = 128, code q + 128), so no weight moves. Everything else is decoded to f32 as
 * the dequant path does and re-quantized by RTN at `bits`/`group`, which is lossy even for Q4_0/Q8_0 at other
 * settings (their levels rarely coincide with RTN's [min, max] grid).
 */
export function lutFromTensor(
  type: SupportedTensorType, bytes: Uint8Array, rows: number, cols: number, bits: LutBits = lutBitsFor(type), group: LutGroup = 32,
): LutWeights {
  if (type === 'Q4_0' && bits === 4 && group === 32) return lutFromBlocks(bytes, rows, cols, 4, 18, 8, q4_0Codes);
  if (type === 'Q8_0' && bits === 8 && group === 32) return lutFromBlocks(bytes, rows, cols, 8, 34, 128, q8_0Codes);
  return quantizeLut(tensorToF32(type, bytes, rows * cols), rows, cols, bits, group);
}

/** The 32 codes of a Q4_0 block (after its 2-byte f16 d): byte j = element j | element j+16 << 4. */
function q4_0Codes(block: Uint8Array, codes: Uint8Array): void {
  for (let j = 0; j < 16; j++) {
    codes[j] = block[2 + j]! & 15;
    codes[j + 16] = block[2 + j]! >> 4;
  }
}

/** The 32 codes of a Q8_0 block (after its 2-byte f16 d): int8 q_j stored as code q_j + 128 (zero point 128). */
function q8_0Codes(block: Uint8Array, codes: Uint8Array): void {
  for (let j = 0; j < 32; j++) codes[j] = block[2 + j]! ^ 0x80;
}

/**
 * The exact mapping of a GGUF block type whose blocks of 32 are an f16 d followed by codes with w = d·(code − zero):
 * scale d, zero point `zero`, group 32.
 */
function lutFromBlocks(
  bytes: Uint8Array, rows: number, cols: number, bits: LutBits, blockBytes: number, zero: number,
  decodeCodes: (block: Uint8Array, codes: Uint8Array) => void,
): LutWeights {
  checkLutShape(rows, cols, bits, 32);
  const blocks = (rows * cols) / 32;
  if (bytes.length < blocks * blockBytes) throw new RangeError(`lutFromTensor: ${bytes.length} bytes for ${blocks} blocks of ${blockBytes}`);
  const planes = new Uint32Array(blocks * bits);
  const scales = new Float32Array(blocks);
  const zeros = new Float32Array(blocks).fill(zero);
  const codes = new Uint8Array(32);
  for (let b = 0; b < blocks; b++) {
    const block = bytes.subarray(blockBytes * b, blockBytes * (b + 1));
    scales[b] = f16ToF32(block[0]! | (block[1]! << 8));
    decodeCodes(block, codes);
    // Block b is row ⌊b / (cols/32)⌋, 32-column block b mod (cols/32): the same index as the plane block.
    for (let j = 0; j < 32; j++) setCode(planes, 0, 32 * b + j, 32, bits, codes[j]!);
  }
  return { rows, cols, bits, group: 32, planes, scales, zeros };
}
