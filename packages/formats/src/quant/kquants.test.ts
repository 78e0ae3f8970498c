import { describe, expect, it } from 'vitest';
import { f32ToF16 } from '../f16.ts';
import { dequantize, quantize } from './index.ts';
import { scaleMinK4 } from './q4k.ts';
import { gaussian, halfAt, mulberry32 } from './test-data.ts';

/** The 12 Q4_K scale bytes for 8 (sc, m) pairs, packed as `quantize_row_q4_K_ref` does. */
function packScalesK4(sc: readonly number[], m: readonly number[]): number[] {
  const out = new Array<number>(12).fill(0);
  for (let j = 0; j < 4; j++) {
    out[j] = sc[j]! | ((sc[j + 4]! >> 4) << 6);
    out[j + 4] = m[j]! | ((m[j + 4]! >> 4) << 6);
    out[j + 8] = (sc[j + 4]! & 0xf) | ((m[j + 4]! & 0xf) << 4);
  }
  return out;
}

const setF16 = (bytes: Uint8Array, o: number, v: number) => { const h = f32ToF16(v); bytes[o] = h & 0xff; bytes[o + 1] = h >> 8; };

describe('Q4_K', () => {
  it('unpacks the 6-bit scales and mins of all 8 sub-blocks (get_scale_min_k4)', () => {
    const next = mulberry32(3);
    for (let trial = 0; trial < 200; trial++) {
      const sc = Array.from({ length: 8 }, () => Math.floor(next() * 64));
      const m = Array.from({ length: 8 }, () => Math.floor(next() * 64));
      const bytes = Uint8Array.from(packScalesK4(sc, m));
      expect(Array.from({ length: 8 }, (_, j) => scaleMinK4(j, bytes, 0))).toEqual(sc.map((s, j) => [s, m[j]]));
    }
  });

  it('dequantizes a hand-built super-block: y = d·sc·q − dmin·m, chunk c = e/64 uses qs[32c…], low then high nibbles', () => {
    const block = new Uint8Array(144);
    setF16(block, 0, 0.5);
    setF16(block, 2, 0.25);
    block.set(packScalesK4([1, 2, 3, 4, 40, 50, 63, 0], [5, 6, 7, 8, 33, 17, 63, 1]), 4);
    for (let c = 0; c < 4; c++) for (let l = 0; l < 32; l++) block[16 + 32 * c + l] = (l & 15) | ((15 - (l & 15)) << 4);
    const y = dequantize('Q4_K', block, 256);
    expect(y[0]).toBe(-1.25); // sub 0, low nibble of qs[0] = 0: 0.5·1·0 − 0.25·5
    expect(y[33]).toBe(12.5); // sub 1, high nibble of qs[1] = 14: 0.5·2·14 − 0.25·6
    expect(y[130]).toBe(31.75); // sub 4, low nibble of qs[66] = 2: 0.5·40·2 − 0.25·33
    expect(y[180]).toBe(270.75); // sub 5, high nibble of qs[84] = 11: 0.5·50·11 − 0.25·17
    expect(y[200]).toBe(236.25); // sub 6, low nibble of qs[104] = 8: 0.5·63·8 − 0.25·63
    expect(y[255]).toBe(-0.25); // sub 7 has sc = 0: −0.25·1
  });
});

describe('Q6_K', () => {
  /** Writes 6-bit code q of element e with methods.md §8.1's index formula (h, r, quarter, l). */
  function setCode(block: Uint8Array, e: number, q: number): void {
    const h = e >> 7, r = e & 127, quarter = r >> 5, l = r & 31;
    const qlIndex = 64 * h + l + (quarter & 1 ? 32 : 0);
    const shift = quarter >= 2 ? 4 : 0;
    block[qlIndex] = (block[qlIndex]! & ~(0xf << shift)) | ((q & 0xf) << shift);
    const qhIndex = 128 + 32 * h + l;
    block[qhIndex] = (block[qhIndex]! & ~(3 << (2 * quarter))) | ((q >> 4) << (2 * quarter));
  }

  it('agrees with the methods.md index formula for codes (ql/qh) and sub-scales (8h + r/16)', () => {
    const next = mulberry32(11);
    const codes = Array.from({ length: 256 }, () => Math.floor(next() * 64));
    const block = new Uint8Array(210);
    codes.forEach((q, e) => setCode(block, e, q));
    block.fill(1, 192, 208); // all sub-scales 1
    setF16(block, 208, 1);
    expect(Array.from(dequantize('Q6_K', block, 256))).toEqual(codes.map((q) => q - 32));

    // Code 33 (value 1) everywhere and distinct signed sub-scales s − 8: y[e] is the scale of sub-block 8h + r/16.
    for (let e = 0; e < 256; e++) setCode(block, e, 33);
    for (let s = 0; s < 16; s++) block[192 + s] = (s - 8) & 0xff;
    const y = dequantize('Q6_K', block, 256);
    for (let e = 0; e < 256; e++) expect(y[e], `element ${e}`).toBe(8 * (e >> 7) + ((e & 127) >> 4) - 8);
  });
});

/**
 * Both K-quant reference quantizers end by re-quantizing every element against the scales as stored (f16 d times
 * the integer sub-scale), so each element must decode to the nearest point of its sub-block's grid — Q4_K:
 * {d·sc·q − dmin·m : q ∈ 0…15}, Q6_K: {d·sc·q : q ∈ −32…31} — up to the f32 rounding of (x + dm)/(d·sc).
 * The RMS bounds follow from uniform rounding (RMS ≈ step/√12): Q4_K's step is about range/15 ≈ 4σ/15 for 32
 * Gaussian values (≈ 0.077σ), Q6_K's about amax/32 ≈ 2σ/32 for 16 values (≈ 0.018σ); the bounds add ~30% margin.
 */
describe('K-quant quantize → dequantize', () => {
  const x = gaussian(5, 256 * 64);
  for (let b = 0; b < 64; b++) for (let i = 0; i < 256; i++) x[b * 256 + i]! *= 2 ** ((b % 8) - 5);

  const grids = {
    Q4_K: { sub: 32, grid: (blk: Uint8Array, j: number) => {
      const [sc, m] = scaleMinK4(j, blk, 4);
      const d = Math.fround(halfAt(blk, 0) * sc), dm = Math.fround(halfAt(blk, 2) * m);
      return Array.from({ length: 16 }, (_, q) => Math.fround(Math.fround(d * q) - dm));
    }, rmsBound: 0.1 },
    Q6_K: { sub: 16, grid: (blk: Uint8Array, j: number) => {
      const d = Math.fround(halfAt(blk, 208) * ((blk[192 + j]! << 24) >> 24));
      return Array.from({ length: 64 }, (_, q) => Math.fround(d * (q - 32)));
    }, rmsBound: 0.025 },
  } as const;

  for (const [type, { sub, grid, rmsBound }] of Object.entries(grids) as [keyof typeof grids, (typeof grids)[keyof typeof grids]][]) {
    it(`${type}: every element decodes to the nearest grid point of its sub-block; RMS error < ${rmsBound}·RMS(x)`, () => {
      const bytes = quantize(type, x);
      const y = dequantize(type, bytes, x.length);
      const size = type === 'Q4_K' ? 144 : 210;
      for (let b = 0; b < 64; b++) {
        const blk = bytes.subarray(b * size, (b + 1) * size);
        let sse = 0, ss = 0;
        for (let j = 0; j < 256 / sub; j++) {
          const points = grid(blk, j);
          const step = Math.abs(points[1]! - points[0]!);
          for (let i = j * sub; i < (j + 1) * sub; i++) {
            const e = b * 256 + i;
            const nearest = Math.min(...points.map((p) => Math.abs(p - x[e]!)));
            expect(Math.abs(y[e]! - x[e]!), `block ${b} element ${i}`).toBeLessThanOrEqual(nearest + 1e-5 * step);
            sse += (y[e]! - x[e]!) ** 2;
            ss += x[e]! ** 2;
          }
        }
        expect(Math.sqrt(sse / ss), `block ${b}`).toBeLessThan(rmsBound);
      }
    });
  }
});
