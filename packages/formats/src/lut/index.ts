// LUT (T-MAC style, methods.md §5) weight format: b-bit codes (b = 1..4) stored as bit-planes, with an asymmetric
// round-to-nearest scale and zero point per group of G (32 or 64) consecutive columns: w ≈ s·(q − z).
//
// Bit-plane layout (the GPU's, methods.md §5.4; not T-MAC's CPU permutation): for row r, 32-column block k and plane
// i, word `(r·(cols/32) + k)·bits + i` holds in nibble n (bits 4n..4n+3) the table index of the 4 weights at columns
// 32k + 4n + e, e = 0..3: bit e of that nibble is bit i of code q[r, 32k + 4n + e] (element e ↔ index bit e, the
// convention of the tables in @qgpu/reference/lut.ts). A thread reading one 32-column block finds its `bits` words
// contiguous.
import { f16ToF32 } from '../f16.ts';
import { tensorToF32, type SupportedTensorType } from '../tensor-data.ts';

/** Code widths the LUT path supports: a 4-weight table index per plane needs nothing more than b ≤ 4 planes. */
export type LutBits = 1 | 2 | 3 | 4;
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
  if (![1, 2, 3, 4].includes(bits)) throw new RangeError(`lut: bits ${bits} not in 1..4`);
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
 * Converts a stored tensor (F32, F16 or any GGUF block type) to the LUT format. Q4_0 at 4 bits / group 32 maps
 * exactly: its block of 32 along the row is w = d·(nibble − 8), i.e. s = d, z = 8, q = nibble, so no weight moves.
 * Everything else is decoded to f32 as the dequant path does and re-quantized by RTN at `bits`/`group`, which is
 * lossy even for Q4_0 at other settings (its 16 levels −8d..7d rarely coincide with RTN's [min, max] grid).
 */
export function lutFromTensor(type: SupportedTensorType, bytes: Uint8Array, rows: number, cols: number, bits: LutBits = 4, group: LutGroup = 32): LutWeights {
  if (type === 'Q4_0' && bits === 4 && group === 32) return lutFromQ4_0(bytes, rows, cols);
  return quantizeLut(tensorToF32(type, bytes, rows * cols), rows, cols, bits, group);
}

/** The exact Q4_0 → LUT (4 bits, group 32) mapping; a Q4_0 block is 2 bytes of f16 d, then byte j = element j | element j+16 << 4. */
function lutFromQ4_0(bytes: Uint8Array, rows: number, cols: number): LutWeights {
  checkLutShape(rows, cols, 4, 32);
  const blocks = (rows * cols) / 32;
  if (bytes.length < blocks * 18) throw new RangeError(`lutFromTensor: ${bytes.length} bytes for ${blocks} Q4_0 blocks`);
  const planes = new Uint32Array(blocks * 4);
  const scales = new Float32Array(blocks);
  const zeros = new Float32Array(blocks).fill(8);
  for (let b = 0; b < blocks; b++) {
    const o = 18 * b;
    scales[b] = f16ToF32(bytes[o]! | (bytes[o + 1]! << 8));
    // Block b is row ⌊b / (cols/32)⌋, 32-column block b mod (cols/32): the same index as the plane block.
    for (let j = 0; j < 16; j++) {
      const byte = bytes[o + 2 + j]!;
      setCode(planes, 0, 32 * b + j, 32, 4, byte & 15);
      setCode(planes, 0, 32 * b + j + 16, 32, 4, byte >> 4);
    }
  }
  return { rows, cols, bits: 4, group: 32, planes, scales, zeros };
}
