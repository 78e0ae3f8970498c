import { f16ToF32, f32ToF16 } from '@qgpu/formats';
import { describe, expect, it } from 'vitest';
import { attention, attentionKv, dequantizeKvInt8, kvCacheValues, quantizeKvInt8 } from './index.ts';

describe('KV-cache twins', () => {
  it('int8: one absmax scale per (row, KV head), codes rounded half to even, zero blocks stay zero', () => {
    // 2 rows × 2 KV heads × head_dim 4. Hand calculation: block [1.27, -0.635, 0.005, 0] has d = 0.01 and
    // codes round([127, -63.5, 0.5, 0]) = [127, -64 (tie → even), 0 (tie → even), 0].
    const x = new Float32Array([1.27, -0.635, 0.005, 0, 0, 0, 0, 0, -2, 1, 0.5, 0.25, 3, 3, 3, -3]);
    const { codes, scales } = quantizeKvInt8(x, 2, 2, 4);
    expect(Array.from(scales)).toEqual([Math.fround(1.27 / 127), 0, Math.fround(2 / 127), Math.fround(3 / 127)]);
    expect(Array.from(codes.subarray(0, 4))).toEqual([127, -64, 0, 0]);
    expect(Array.from(codes.subarray(4, 8))).toEqual([0, 0, 0, 0]);
    expect(Array.from(codes.subarray(8, 12))).toEqual([-127, 64, 32, 16]); // 63.5 → 64, 31.75 → 32, 15.875 → 16
    expect(Array.from(codes.subarray(12, 16))).toEqual([127, 127, 127, -127]);
    const back = dequantizeKvInt8({ codes, scales }, 4);
    for (let i = 0; i < x.length; i++) expect(Math.abs(back[i]! - x[i]!)).toBeLessThanOrEqual(scales[Math.floor(i / 4)]! / 2 + 1e-7);
  });

  it('f16 rounds each value once; f32 is the identity', () => {
    const x = new Float32Array([1 / 3, 1000.1, -2e-5, 65504]);
    expect(Array.from(kvCacheValues('f16', x, 1, 1, 4))).toEqual(Array.from(x, (v) => f16ToF32(f32ToF16(v))));
    expect(kvCacheValues('f32', x, 1, 1, 4)).toBe(x);
  });

  it('attentionKv is attention on what the cache returns', () => {
    const q = new Float32Array([0.5, -1, 0.25, 2]);
    const k = new Float32Array([0.1, 0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8]);
    const v = new Float32Array([1, 2, 3, 4, -1, 0.5, 0.25, 8]);
    for (const type of ['f32', 'f16', 'int8'] as const) {
      const expected = attention(q, kvCacheValues(type, k, 2, 1, 4), kvCacheValues(type, v, 2, 1, 4), 1, 1, 1, 1, 4);
      expect(Array.from(attentionKv(type, q, k, v, 1, 1, 1, 1, 4))).toEqual(Array.from(expected));
    }
  });
});
