import { describe, expect, it } from 'vitest';
import { FormatError } from '../byte-source.ts';
import { f16ToF32, f32ToF16 } from '../f16.ts';
import { dequantize, quantize } from './index.ts';
import { gaussian, halfAt } from './test-data.ts';

const block = (head: number[]) => { const x = new Float32Array(32); x.set(head); return x; };
const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');

describe('legacy block codecs on hand-computed blocks', () => {
  it('Q4_0: methods.md §8.2 example, signed-max scale d = max/−8', () => {
    const bytes = quantize('Q4_0', block([-3.2, 1.0, 0.2, -0.2, 3.0]));
    // d = −3.2/−8 = 0.4 → f16 0x3666 = 0.39990234375. Codes trunc(x/d + 8.5): −3.2 → 0 (the max maps exactly to
    // code 0), 1.0 → 11, 0.2 → 9, −0.2 → 8, 3.0 → 16 clipped to 15, zeros → 8. Elements j+16 are all 8 (high nibbles).
    expect(hex(bytes.subarray(0, 8))).toBe('66 36 80 8b 89 88 8f 88');
    const y = dequantize('Q4_0', bytes, 32);
    const d = 0.39990234375;
    expect(Array.from(y.subarray(0, 6))).toEqual([-8, 3, 1, 0, 7, 0].map((q) => Math.fround(q * d)));
    expect(Array.from(y.subarray(16))).toEqual(new Array<number>(16).fill(0));
  });

  it('Q8_0: d = amax/127 and roundf, i.e. half away from zero (not WGSL round, which is half-even)', () => {
    const bytes = quantize('Q8_0', block([127, -2.5, 2.5, 0.5, -0.5, 1.49, -126.5]));
    expect(f16ToF32(bytes[0]! | (bytes[1]! << 8))).toBe(1);
    expect(Array.from(new Int8Array(bytes.buffer, 2, 8))).toEqual([127, -3, 3, 1, -1, 1, -127, 0]);
    expect(Array.from(dequantize('Q8_0', bytes, 32).subarray(0, 7))).toEqual([127, -3, 3, 1, -1, 1, -127]);
  });

  it('Q4_1: d = (max − min)/15, m = min, codes round half up from min', () => {
    // min −1, max 14 → d = 1, m = −1; 2.4 → 3.4+0.5 → 3; 2.5 → 4 (half up); 14 → 15.
    const bytes = quantize('Q4_1', block([-1, 14, 2.4, 2.5, ...new Array<number>(12).fill(0), 5]));
    expect([halfAt(bytes, 0), halfAt(bytes, 2)]).toEqual([1, -1]);
    expect(hex(bytes.subarray(4, 8))).toBe('60 1f 13 14'); // byte j = code j | code (j+16) << 4; element 16 is 5 → 6
    expect(Array.from(dequantize('Q4_1', bytes, 32).subarray(0, 4))).toEqual([-1, 14, 2, 3]);
  });

  it('Q5_0: d = max/−16, 5-bit codes with bit 4 of element j in bit j of qh', () => {
    // max −16 → d = 1; codes trunc(x + 16.5): −16 → 0, 15 → 31, 15.4 → 31, 5 → 21, −3.5 → 13; zeros → 16.
    const x = block([-16, 15, 15.4, 5, -3.5]);
    x[31] = -5; // code 11, no bit 4: qh bit 31 clear
    const bytes = quantize('Q5_0', x);
    expect(halfAt(bytes, 0)).toBe(1);
    // Bit 4 is set for codes ≥ 16: elements 1, 2, 3 and every zero element (code 16) except 0, 4 and 31.
    const qh = (bytes[2]! | (bytes[3]! << 8) | (bytes[4]! << 16) | (bytes[5]! << 24)) >>> 0;
    expect(qh.toString(2).padStart(32, '0')).toBe('01111111111111111111111111101110');
    expect(hex(bytes.subarray(6, 11))).toBe('00 0f 0f 05 0d'); // low nibbles of codes 0, 31, 31, 21, 13; high nibbles of code 16 are 0
    expect(Array.from(dequantize('Q5_0', bytes, 32))).toEqual([-16, 15, 15, 5, -3, ...new Array<number>(26).fill(0), -5]);
  });

  it('Q5_1: d = (max − min)/31, codes up to 31 with bit 4 in qh', () => {
    // min 0, max 31 → d = 1, m = 0; 15.5 → 16 (bit 4 set), 16.4 → 16, 30.6 → 31.
    const bytes = quantize('Q5_1', block([0, 31, 15.5, 16.4, 30.6]));
    expect([halfAt(bytes, 0), halfAt(bytes, 2)]).toEqual([1, 0]);
    expect(bytes[4]).toBe(0b11110); // qh bits 1–4
    expect(Array.from(dequantize('Q5_1', bytes, 32).subarray(0, 5))).toEqual([0, 31, 16, 16, 31]);
  });

  it('all-zero blocks decode to zeros', () => {
    for (const type of ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q4_K', 'Q6_K'] as const) {
      const n = type.endsWith('K') ? 256 : 32;
      // `===` rather than toEqual: Q6_K's 0·(q − 32) with a negative code is −0, as in ggml.
      expect(dequantize(type, quantize(type, new Float32Array(n)), n).every((v) => v === 0), type).toBe(true);
    }
  });

  it('rejects byte and element counts that are not whole blocks', () => {
    expect(() => dequantize('Q8_0', new Uint8Array(33), 32)).toThrow(FormatError);
    expect(() => dequantize('Q4_K', new Uint8Array(144), 32)).toThrow(/not a multiple of the block size 256/);
    expect(() => quantize('Q4_0', new Float32Array(31))).toThrow(/not a multiple/);
  });
});

/**
 * Per-element error bounds of quantize → dequantize on Gaussian blocks spanning 2^-8…2^3 in scale. Each code is
 * the nearest grid point for the f32 scale d (error ≤ d/2, up to |d| where a code is clipped), then decoded with
 * the f16-rounded d_h (and m_h): |x − y| ≤ reach·|d| + |q|·|d − d_h| + |m − m_h|, plus 1e-4·|d| for the f32
 * rounding of 1/d in x·(1/d).
 */
describe('legacy quantize → dequantize error bounds', () => {
  const blocks = 384;
  const x = gaussian(7, 32 * blocks);
  for (let b = 0; b < blocks; b++) for (let j = 0; j < 32; j++) x[b * 32 + j]! *= 2 ** ((b % 12) - 8);
  const blockStats = (b: number) => {
    const v = Array.from(x.subarray(b * 32, b * 32 + 32));
    const amax = Math.max(...v.map(Math.abs));
    return { v, amax, signedMax: v.find((e) => Math.abs(e) === amax)!, min: Math.min(...v), max: Math.max(...v) };
  };
  const rounded = (v: number) => f16ToF32(f32ToF16(v));

  /** For each type: the f32 scale d, the offset m, the signed code value q of element x, and the clip reach. */
  const cases = {
    // Never clips: |x| ≤ amax = 127·d.
    Q8_0: (s: ReturnType<typeof blockStats>) => ({ d: Math.fround(s.amax / 127), m: 0, reach: () => 0.5 }),
    // x/d ∈ [−8, 8]; code 16 (x/d ≥ 7.5) is clipped to 15, so those elements may be off by up to |d|.
    Q4_0: (s: ReturnType<typeof blockStats>) => ({ d: Math.fround(s.signedMax / -8), m: 0, reach: (t: number) => (t >= 7.5 ? 1 : 0.5) }),
    Q5_0: (s: ReturnType<typeof blockStats>) => ({ d: Math.fround(s.signedMax / -16), m: 0, reach: (t: number) => (t >= 15.5 ? 1 : 0.5) }),
    // (x − min)/d ∈ [0, 15] (or [0, 31]): never clips.
    Q4_1: (s: ReturnType<typeof blockStats>) => ({ d: Math.fround(Math.fround(s.max - s.min) / 15), m: s.min, reach: () => 0.5 }),
    Q5_1: (s: ReturnType<typeof blockStats>) => ({ d: Math.fround(Math.fround(s.max - s.min) / 31), m: s.min, reach: () => 0.5 }),
  } as const;

  for (const [type, scaleOf] of Object.entries(cases) as [keyof typeof cases, (typeof cases)[keyof typeof cases]][]) {
    it(`${type}: |x − y| ≤ reach·|d| + |q|·|d − d_h| + |m − m_h|`, () => {
      const y = dequantize(type, quantize(type, x), x.length);
      let worst = 0;
      for (let b = 0; b < blocks; b++) {
        const s = blockStats(b);
        const { d, m, reach } = scaleOf(s);
        const dh = rounded(d), mh = rounded(m);
        for (let j = 0; j < 32; j++) {
          const xv = s.v[j]!, yv = y[b * 32 + j]!;
          const q = Math.round((yv - mh) / dh); // the decoded code (exact: yv = q·dh + mh up to one f32 rounding)
          const bound = reach((xv - m) / d) * Math.abs(d) * (1 + 2e-4) + Math.abs(q * (d - dh)) + Math.abs(m - mh);
          expect(Math.abs(xv - yv), `${type} block ${b} element ${j}`).toBeLessThanOrEqual(bound);
          worst = Math.max(worst, Math.abs(xv - yv) / Math.abs(d));
        }
      }
      // The bound is attained, not loose: the worst error is at least 0.45·|d| on this much data.
      expect(worst).toBeGreaterThan(0.45);
    });
  }
});
