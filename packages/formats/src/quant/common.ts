// Shared pieces of the GGUF block codecs: block geometry, size checks, and the two scalar primitives every
// llama.cpp quantizer is built from (f32 arithmetic and `nearest_int`).
import { FormatError } from '../byte-source.ts';
import { f16ToF32 } from '../f16.ts';

/** GGUF block types with a CPU codec and a GPU repacker in this package. */
export type QuantTypeName = 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q4_K' | 'Q6_K';

/** Elements and bytes per block (ggml-common.h); K-quant "blocks" are the 256-element super-blocks. */
export const QUANT_BLOCK = {
  Q8_0: { elements: 32, bytes: 34 },
  Q4_0: { elements: 32, bytes: 18 },
  Q4_1: { elements: 32, bytes: 20 },
  Q5_0: { elements: 32, bytes: 22 },
  Q5_1: { elements: 32, bytes: 24 },
  Q4_K: { elements: 256, bytes: 144 },
  Q6_K: { elements: 256, bytes: 210 },
} as const satisfies Record<QuantTypeName, { elements: number; bytes: number }>;

/** True when `name` (e.g. a `GgufTensorInfo.typeName`) is one of the types this module handles. */
export function isQuantTypeName(name: string): name is QuantTypeName {
  return Object.hasOwn(QUANT_BLOCK, name);
}

/** Number of blocks for `elementCount` values; throws when the count is not a whole number of blocks. */
export function blockCountOf(type: QuantTypeName, elementCount: number): number {
  const { elements } = QUANT_BLOCK[type];
  if (!Number.isSafeInteger(elementCount) || elementCount < 0 || elementCount % elements !== 0) {
    throw new FormatError(`${type}: element count ${elementCount} is not a multiple of the block size ${elements}`);
  }
  return elementCount / elements;
}

/** Checks that `bytes` holds exactly the blocks of `elementCount` values and returns the block count. */
export function checkQuantBytes(type: QuantTypeName, bytes: Uint8Array, elementCount: number): number {
  const blocks = blockCountOf(type, elementCount);
  const expected = blocks * QUANT_BLOCK[type].bytes;
  if (bytes.byteLength !== expected) {
    throw new FormatError(`${type}: ${elementCount} elements need ${expected} bytes, got ${bytes.byteLength}`);
  }
  return blocks;
}

/** Rounds to binary32: every ggml float operation is one correctly rounded f32 op, i.e. `f(a op b)` in double. */
export const f = Math.fround;

/** The f16 at byte offset `o` (little-endian), as a float. */
export function readF16(bytes: Uint8Array, o: number): number {
  return f16ToF32(bytes[o]! | (bytes[o + 1]! << 8));
}

/** The little-endian u32 at byte offset `o`. */
export function readU32(bytes: Uint8Array, o: number): number {
  return (bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24)) >>> 0;
}

const scratchF32 = new Float32Array(1);
const scratchI32 = new Int32Array(scratchF32.buffer);

/**
 * ggml's `nearest_int`: adds 1.5·2²³ in f32 and reads the low mantissa bits, i.e. round half to even for
 * |x| ≤ 4194303. Reproduced bit for bit (rather than with a rounding function) so out-of-range inputs give the
 * same garbage as in C.
 */
export function nearestInt(x: number): number {
  scratchF32[0] = f(x) + 12582912;
  return (scratchI32[0]! & 0x007fffff) - 0x00400000;
}

/** C's `roundf`: half away from zero. */
export function roundHalfAway(x: number): number {
  return Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
}

/** C's conversion to `int8_t` of an in-range float (truncation toward zero, wrapped to 8 bits as the stores do). */
export function toInt8(x: number): number {
  return (Math.trunc(x) << 24) >> 24;
}
