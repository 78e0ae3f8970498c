// Decodes the GPU layout of repack.ts back to floats, one element at a time from its global index, the way a
// WGSL dequantization kernel does (one invocation per element, reading u32 words and extracting bit fields).
// It shares no code with the block decoders of legacy.ts / q4k.ts / q6k.ts, so agreement between
// `dequantizeRepacked(repack(bytes))` and `dequantize(bytes)` checks the repacker, the layout documentation and
// both decoders at once.
import { FormatError } from '../byte-source.ts';
import { f16ToF32 } from '../f16.ts';
import { blockCountOf, f, QUANT_BLOCK, type QuantTypeName } from './common.ts';
import { repackedWordsPerBlock, type RepackedTensor } from './repack.ts';

/** Byte k of the field that starts at word `base` (little-endian bytes within each word). */
const byteAt = (w: Uint32Array, base: number, k: number) => (w[base + (k >> 2)]! >>> (8 * (k & 3))) & 0xff;
const sext8 = (v: number) => (v << 24) >> 24;
/** Half `i` of a packed-f16 array: low 16 bits of word i>>1 for even i, high 16 bits for odd i. */
const halfAt = (w: Uint32Array, i: number) => f16ToF32((w[i >> 1]! >>> (16 * (i & 1))) & 0xffff);
const lowHalf = (word: number) => f16ToF32(word & 0xffff);
const highHalf = (word: number) => f16ToF32(word >>> 16);

type ElementDecoder = (p: Record<string, Uint32Array>, block: number, e: number) => number;

/** Nibble of element e (0…31) of a 32-element block: low nibble of byte e for e < 16, else high nibble of e−16. */
const nibble32 = (qs: Uint32Array, block: number, e: number) => {
  const byte = byteAt(qs, block * 4, e & 15);
  return e < 16 ? byte & 0xf : byte >> 4;
};
/** 5-bit code of element e: the nibble plus bit e of the block's qh word as bit 4. */
const code5 = (p: Record<string, Uint32Array>, block: number, e: number) =>
  nibble32(p.qs!, block, e) | (((p.qh![block]! >>> e) & 1) << 4);

const DECODERS: Record<QuantTypeName, ElementDecoder> = {
  Q8_0: (p, block, e) => f(sext8(byteAt(p.qs!, block * 8, e)) * halfAt(p.d!, block)),
  Q4_0: (p, block, e) => f((nibble32(p.qs!, block, e) - 8) * halfAt(p.d!, block)),
  Q4_1: (p, block, e) => {
    const dm = p.dm![block]!;
    return f(f(nibble32(p.qs!, block, e) * lowHalf(dm)) + highHalf(dm));
  },
  Q5_0: (p, block, e) => f((code5(p, block, e) - 16) * halfAt(p.d!, block)),
  Q5_1: (p, block, e) => {
    const dm = p.dm![block]!;
    return f(f(code5(p, block, e) * lowHalf(dm)) + highHalf(dm));
  },
  Q4_K: (p, block, e) => {
    // 4 chunks of 64: qs[32c + r%32], low nibble for the first 32 (sub-block 2c), high for the next 32.
    const c = e >> 6, r = e & 63, sub = 2 * c + (r >> 5);
    const byte = byteAt(p.qs!, block * 32, 32 * c + (r & 31));
    const q = r < 32 ? byte & 0xf : byte >> 4;
    const s = (k: number) => byteAt(p.scales!, block * 3, k);
    // 6-bit scale/min: bytes 0–3 / 4–7 hold sub-blocks 0–3 (top 2 bits lend to 4–7); bytes 8–11 the low nibbles of 4–7.
    const sc = sub < 4 ? s(sub) & 63 : (s(sub + 4) & 0xf) | ((s(sub - 4) >> 6) << 4);
    const m = sub < 4 ? s(sub + 4) & 63 : (s(sub + 4) >> 4) | ((s(sub) >> 6) << 4);
    const dm = p.dm![block]!;
    return f(f(f(lowHalf(dm) * sc) * q) - f(highHalf(dm) * m));
  },
  Q6_K: (p, block, e) => {
    // methods.md §8.1: h = e/128, r = e%128, quarter = r/32, l = r%32.
    const h = e >> 7, r = e & 127, quarter = r >> 5, l = r & 31;
    const low4 = (byteAt(p.ql!, block * 32, 64 * h + l + 32 * (quarter & 1)) >> (quarter >= 2 ? 4 : 0)) & 0xf;
    const high2 = (byteAt(p.qh!, block * 16, 32 * h + l) >> (2 * quarter)) & 3;
    const sc = sext8(byteAt(p.scales!, block * 4, 8 * h + (r >> 4)));
    return f(f(halfAt(p.d!, block) * sc) * ((low4 | (high2 << 4)) - 32));
  },
};

/** Dequantizes a repacked tensor from its GPU parts alone (bit-identical to `dequantize` on the source bytes). */
export function dequantizeRepacked(t: RepackedTensor, elementCount: number): Float32Array {
  const blocks = blockCountOf(t.type, elementCount);
  if (blocks !== t.blockCount) throw new FormatError(`${t.type}: ${elementCount} elements are ${blocks} blocks, tensor has ${t.blockCount}`);
  for (const [part, perBlock] of Object.entries(repackedWordsPerBlock(t.type))) {
    const expected = Math.ceil(blocks * perBlock);
    if (t.parts[part]?.length !== expected) {
      throw new FormatError(`${t.type}: part '${part}' should have ${expected} words, has ${t.parts[part]?.length ?? 'none'}`);
    }
  }
  const decode = DECODERS[t.type];
  const per = QUANT_BLOCK[t.type].elements;
  const out = new Float32Array(elementCount);
  for (let i = 0; i < elementCount; i++) out[i] = decode(t.parts, Math.floor(i / per), i % per);
  return out;
}
