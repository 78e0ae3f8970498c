// The codecs against llama.cpp's own output: every quantized tensor of every stories260K GGUF file (written by
// llama-quantize from the F32 files, without an importance matrix).
import { beforeAll, describe, expect, it } from 'vitest';
import { dequantize, dequantizeRepacked, quantize, repack } from './index.ts';
import { firstBitDifference, halfAt, realQuantTensors, type RealQuantTensor } from './test-data.ts';

let tensors: RealQuantTensor[] = [];
beforeAll(async () => {
  tensors = await realQuantTensors();
});

describe('stories260K quantized GGUF files', () => {
  it('cover Q8_0, Q4_0, Q5_0, Q4_K and Q6_K', () => {
    expect(new Set(tensors.map((t) => t.type))).toEqual(new Set(['Q8_0', 'Q4_0', 'Q5_0', 'Q4_K', 'Q6_K']));
  });

  it('quantize() reproduces llama-quantize byte for byte (reference quantizers are bit-exact)', () => {
    const mismatches = tensors.filter((t) => {
      const mine = quantize(t.type, t.original);
      return mine.length !== t.bytes.length || mine.some((b, i) => b !== t.bytes[i]);
    });
    expect(mismatches.map((t) => `${t.file}:${t.tensor.name} (${t.type})`)).toEqual([]);
    expect(tensors.length).toBe(244); // 32 + 32 + 32 (dim 64 files) + 4 × 37 (pad256 files)
  });

  it('dequantizeRepacked(repack(bytes)) is bit-identical to dequantize(bytes) for every tensor', () => {
    for (const t of tensors) {
      const n = t.tensor.elementCount;
      expect(firstBitDifference(dequantizeRepacked(repack(t.type, t.bytes, n), n), dequantize(t.type, t.bytes, n)), `${t.file}:${t.tensor.name}`).toBe(-1);
    }
  });

  it('Q8_0 tensors of stories260K-q8_0.gguf are within d/2 + |q|·|d − d_h| of the F32 weights', () => {
    // The code is round(x/d) with d = amax/127 in f32 (error ≤ d/2), decoded with the f16-rounded d_h; 2e-4·d
    // covers the f32 rounding of 1/d and of x·(1/d).
    const q8 = tensors.filter((t) => t.file === 'stories260K-q8_0.gguf' && t.type === 'Q8_0');
    expect(q8.length).toBe(32);
    let worstRelative = 0;
    for (const t of q8) {
      const y = dequantize('Q8_0', t.bytes, t.tensor.elementCount);
      for (let b = 0; b < t.tensor.elementCount / 32; b++) {
        const x = t.original.subarray(b * 32, b * 32 + 32);
        const d = Math.fround(Math.max(...Array.from(x, Math.abs)) / 127);
        const dh = halfAt(t.bytes, b * 34);
        for (let j = 0; j < 32; j++) {
          const q = (t.bytes[b * 34 + 2 + j]! << 24) >> 24;
          const err = Math.abs(y[b * 32 + j]! - x[j]!);
          expect(err, `${t.tensor.name} block ${b}`).toBeLessThanOrEqual(d * 0.5 * (1 + 2e-4) + Math.abs(q * (d - dh)));
          if (d > 0) worstRelative = Math.max(worstRelative, err / d);
        }
      }
    }
    // 0.5 plus up to 127·2^-11 ≈ 0.062 from rounding d to f16.
    expect(worstRelative).toBeGreaterThan(0.45);
    expect(worstRelative).toBeLessThan(0.5 + 127 * 2 ** -11);
  });
});
