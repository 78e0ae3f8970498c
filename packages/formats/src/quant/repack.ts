// GPU layout of the GGUF block types: structure-of-arrays of u32 words, because 18-, 22-, 34- and 210-byte
// blocks cannot be read as aligned u32 in WGSL (storage buffers have no 8/16-bit types). Blocks are numbered
// globally in file order (block index = row·blocksPerRow + b). Kernels depend on these exact layouts:
//   Q8_0 qs 8 u32/block (the 32 int8 bytes as-is), d f16 pairs
//   Q4_0 qs 4 u32/block,                          d f16 pairs
//   Q4_1 qs 4 u32/block,                          dm 1 u32/block (d low half, m high half)
//   Q5_0 qs 4 u32/block, qh 1 u32/block,          d f16 pairs
//   Q5_1 qs 4 u32/block, qh 1 u32/block,          dm 1 u32/block
//   Q4_K qs 32 u32, scales 3 u32, dm 1 u32 (d low, dmin high) per super-block
//   Q6_K ql 32 u32, qh 16 u32, scales 4 u32 (int8 bytes as-is), d f16 pairs per super-block
// "As-is" means byte k of a block's field is byte k%4 (little-endian) of word k/4. "f16 pairs" put block b's
// half in the low 16 bits of word b>>1 when b is even and the high 16 bits when odd; a missing odd half is 0.
import { checkQuantBytes, QUANT_BLOCK, type QuantTypeName } from './common.ts';

/** A quantized tensor repacked for the GPU: named u32 arrays (see the layout table in repack.ts). */
export interface RepackedTensor {
  type: QuantTypeName;
  parts: Record<string, Uint32Array>;
  blockCount: number;
}

/** One field of a block: its byte offset in the GGUF block, its length, and how it is stored on the GPU. */
interface Field {
  part: string;
  offset: number;
  bytes: number;
  /** 'words': bytes copied as-is, bytes/4 words per block; 'f16pair': a 2-byte half, two blocks per word. */
  kind: 'words' | 'f16pair';
}

const words = (part: string, offset: number, bytes: number): Field => ({ part, offset, bytes, kind: 'words' });
const f16pair = (part: string, offset: number): Field => ({ part, offset, bytes: 2, kind: 'f16pair' });

/** Field table per type; `dm` fields are the 4 bytes d, m (or d, dmin) taken as one little-endian word. */
const FIELDS: Record<QuantTypeName, readonly Field[]> = {
  Q8_0: [words('qs', 2, 32), f16pair('d', 0)],
  Q4_0: [words('qs', 2, 16), f16pair('d', 0)],
  Q4_1: [words('qs', 4, 16), words('dm', 0, 4)],
  Q5_0: [words('qs', 6, 16), words('qh', 2, 4), f16pair('d', 0)],
  Q5_1: [words('qs', 8, 16), words('qh', 4, 4), words('dm', 0, 4)],
  Q4_K: [words('qs', 16, 128), words('scales', 4, 12), words('dm', 0, 4)],
  Q6_K: [words('ql', 0, 128), words('qh', 128, 64), words('scales', 192, 16), f16pair('d', 208)],
};

/**
 * Repacks GGUF blocks (`bytes`, file layout) into the structure-of-arrays GPU layout. Byte order is handled
 * explicitly, so the result is the same on any host.
 */
export function repack(type: QuantTypeName, bytes: Uint8Array, elementCount: number): RepackedTensor {
  const blocks = checkQuantBytes(type, bytes, elementCount);
  const stride = QUANT_BLOCK[type].bytes;
  const parts: Record<string, Uint32Array> = {};
  for (const field of FIELDS[type]) {
    if (field.kind === 'f16pair') {
      const out = new Uint32Array(Math.ceil(blocks / 2));
      for (let b = 0; b < blocks; b++) {
        const o = b * stride + field.offset;
        const half = bytes[o]! | (bytes[o + 1]! << 8);
        out[b >> 1] = out[b >> 1]! | (half << (16 * (b & 1)));
      }
      parts[field.part] = out;
      continue;
    }
    const perBlock = field.bytes / 4;
    const out = new Uint32Array(blocks * perBlock);
    for (let b = 0; b < blocks; b++) {
      let o = b * stride + field.offset;
      for (let w = 0; w < perBlock; w++, o += 4) {
        out[b * perBlock + w] = bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24);
      }
    }
    parts[field.part] = out;
  }
  return { type, parts, blockCount: blocks };
}

/** Words per block of each part, for size checks by consumers (f16-pair parts report 0.5). */
export function repackedWordsPerBlock(type: QuantTypeName): Record<string, number> {
  return Object.fromEntries(FIELDS[type].map((field) => [field.part, field.kind === 'f16pair' ? 0.5 : field.bytes / 4]));
}
