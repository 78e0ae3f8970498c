import { describe, expect, it } from 'vitest';
import { FormatError } from '../byte-source.ts';
import { dequantize, dequantizeRepacked, QUANT_BLOCK, repack, type QuantTypeName } from './index.ts';
import { firstBitDifference, randomBlocks } from './test-data.ts';

const TYPES = Object.keys(QUANT_BLOCK) as QuantTypeName[];
const le32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const le16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);

/**
 * The layout contract the WGSL kernels rely on, restated from the task description: per part, the byte offset of
 * the field in the GGUF block and either its length (copied as little-endian words) or 'f16' (two blocks per word).
 */
const SPEC: Record<QuantTypeName, Record<string, [offset: number, bytes: number | 'f16']>> = {
  Q8_0: { qs: [2, 32], d: [0, 'f16'] },
  Q4_0: { qs: [2, 16], d: [0, 'f16'] },
  Q4_1: { qs: [4, 16], dm: [0, 4] },
  Q5_0: { qs: [6, 16], qh: [2, 4], d: [0, 'f16'] },
  Q5_1: { qs: [8, 16], qh: [4, 4], dm: [0, 4] },
  Q4_K: { qs: [16, 128], scales: [4, 12], dm: [0, 4] },
  Q6_K: { ql: [0, 128], qh: [128, 64], scales: [192, 16], d: [208, 'f16'] },
};

describe('repack layout', () => {
  for (const type of TYPES) {
    it(`${type}: parts are ${Object.keys(SPEC[type]).join(', ')} with the documented word layout`, () => {
      const blocks = 5; // odd, so the last f16 pair has an empty high half
      const bytes = randomBlocks(type, blocks, 100 + TYPES.indexOf(type));
      const t = repack(type, bytes, blocks * QUANT_BLOCK[type].elements);
      expect(t.type).toBe(type);
      expect(t.blockCount).toBe(blocks);
      expect(Object.keys(t.parts).sort()).toEqual(Object.keys(SPEC[type]).sort());
      const size = QUANT_BLOCK[type].bytes;
      for (const [part, [offset, length]] of Object.entries(SPEC[type])) {
        const words = t.parts[part]!;
        if (length === 'f16') {
          expect(words.length).toBe(3);
          for (let b = 0; b < blocks; b++) expect((words[b >> 1]! >>> (16 * (b & 1))) & 0xffff).toBe(le16(bytes, b * size + offset));
          expect(words[2]! >>> 16).toBe(0);
        } else {
          expect(words.length).toBe((blocks * length) / 4);
          for (let b = 0; b < blocks; b++) {
            for (let w = 0; w < length / 4; w++) expect(words[(b * length) / 4 + w]).toBe(le32(bytes, b * size + offset + 4 * w));
          }
        }
      }
    });
  }

  it('Q8_0 literal example: int8 bytes stay in byte order within each word, d halves pair up', () => {
    const block = (d: number, first: number[]) => { const b = new Uint8Array(34); b[0] = d & 0xff; b[1] = d >> 8; b.set(first, 2); return b; };
    const bytes = new Uint8Array(68);
    bytes.set(block(0x3c00, [0x01, 0xff, 0x7f, 0x80]), 0);
    bytes.set(block(0xbc00, [0x05]), 34);
    const t = repack('Q8_0', bytes, 64);
    expect(t.parts.qs![0]).toBe(0x807fff01);
    expect(t.parts.qs![8]).toBe(0x05);
    expect(t.parts.d).toEqual(new Uint32Array([0xbc003c00]));
    expect(Array.from(dequantizeRepacked(t, 64).subarray(0, 4))).toEqual([1, -1, 127, -128]);
  });
});

describe('dequantizeRepacked(repack(bytes)) === dequantize(bytes)', () => {
  for (const type of TYPES) {
    it(`${type}: bit-identical on random raw blocks with arbitrary finite f16 scales`, () => {
      const blocks = 257;
      const bytes = randomBlocks(type, blocks, 7 + TYPES.indexOf(type));
      const n = blocks * QUANT_BLOCK[type].elements;
      expect(firstBitDifference(dequantizeRepacked(repack(type, bytes, n), n), dequantize(type, bytes, n))).toBe(-1);
    });
  }

  it('checks the block count and every part size', () => {
    const t = repack('Q4_K', randomBlocks('Q4_K', 2, 1), 512);
    expect(() => dequantizeRepacked(t, 256)).toThrow(/512|2 blocks|1 blocks/);
    expect(() => dequantizeRepacked({ ...t, parts: { ...t.parts, scales: new Uint32Array(5) } }, 512)).toThrow(FormatError);
    const { dm: _dropped, ...withoutDm } = t.parts;
    expect(() => dequantizeRepacked({ ...t, parts: withoutDm }, 512)).toThrow(/part 'dm'/);
  });
});
