// The bookkeeping the benchmark numbers rest on: byte counts, copy sizes, iteration choice, medians, shapes.
import { describe, expect, it } from 'vitest';
import { copyWordsFor, parseShape, shapeLabel, splitWorkgroups } from './cases.ts';
import { gbPerSecond, markdownTable } from './report.ts';
import { chooseIterations, median } from './timing.ts';
import { FORMATS, LUT_BITS_BENCHED, lutWeightPartBytes, lutWeightParts, tileWords, weightPartBytes, weightParts } from './weights.ts';

describe('weights', () => {
  it.each(FORMATS)('%s: predicted part sizes equal the built parts (256×512)', (format) => {
    const built = Object.values(weightParts(format, 256, 512)).map((w) => w.byteLength);
    expect(built).toEqual(weightPartBytes(format, 256, 512));
  });

  it('bytes per weight match the GGUF block sizes', () => {
    const total = (f: (typeof FORMATS)[number]) => weightPartBytes(f, 1024, 1024).reduce((a, b) => a + b, 0) / 2 ** 20;
    expect(total('f32')).toBe(4);
    expect(total('f16')).toBe(2);
    expect(total('q8_0')).toBeCloseTo(34 / 32, 6);
    expect(total('q4_0')).toBeCloseTo(18 / 32, 6);
    expect(total('q5_0')).toBeCloseTo(22 / 32, 6);
    expect(total('q4_k')).toBeCloseTo(144 / 256, 6);
    expect(total('q6_k')).toBeCloseTo(210 / 256, 6);
  });

  it.each(LUT_BITS_BENCHED)('lut %i bits: predicted part sizes equal the built parts, b + 2 bits per weight (256×512)', (bits) => {
    const built = Object.values(lutWeightParts(bits, 256, 512)).map((w) => w.byteLength);
    expect(built).toEqual(lutWeightPartBytes(bits, 256, 512));
    expect((8 * built.reduce((a, b) => a + b, 0)) / (256 * 512)).toBe(bits + 2);
  });

  it('tileWords repeats and truncates', () => {
    expect([...tileWords(Uint32Array.of(1, 2, 3), 7)]).toEqual([1, 2, 3, 1, 2, 3, 1]);
  });
});

describe('sizes and shapes', () => {
  it('compares with a copy moving the nearest power of two of the same bytes, capped by the binding limit', () => {
    expect(copyWordsFor(8 * 2 ** 20, 2 ** 27) * 8).toBe(8 * 2 ** 20);
    expect(copyWordsFor(11 * 2 ** 20, 2 ** 27) * 8).toBe(8 * 2 ** 20);
    expect(copyWordsFor(13 * 2 ** 20, 2 ** 27) * 8).toBe(16 * 2 ** 20);
    expect(copyWordsFor(2 ** 30, 2 ** 27) * 4).toBe(2 ** 27);
  });

  it('splits workgroups over x and y without losing any', () => {
    for (const n of [1, 65535, 65536, 131071, 200000]) {
      const [x, y] = splitWorkgroups(n, 65535);
      expect(x).toBeLessThanOrEqual(65535);
      expect(x * y).toBeGreaterThanOrEqual(n);
      expect(x * (y - 1)).toBeLessThan(n);
    }
  });

  it('parses --shapes entries', () => {
    expect(parseShape('64@576x1536')).toMatchObject({ rows: 576, cols: 1536, tokens: 64 });
    expect(shapeLabel(parseShape('2048x8192'))).toBe('2048×8192');
    expect(() => parseShape('2048*8192')).toThrow(/ROWSxCOLS/);
  });
});

describe('timing arithmetic', () => {
  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('chooses enough calls to fill the target, at least one, at most the cap', () => {
    const options = { targetMs: 200, repeats: 5, maxIterations: 100 };
    expect(chooseIterations(10, options)).toBe(20);
    expect(chooseIterations(500, options)).toBe(1);
    expect(chooseIterations(0.01, options)).toBe(100);
  });

  it('GB/s from bytes and µs', () => {
    expect(gbPerSecond(1e9, 1e6)).toBe(1);
  });

  it('the table shows the ratio to the copy', () => {
    const timing = { iterations: 4, wallUs: [10], gpuUs: null, medianWallUs: 10, medianGpuUs: null };
    const shape = { rows: 2, cols: 32, tokens: 1, note: '' };
    const result = { ...timing, kernel: 'matmul_q8_0', format: 'q8_0' as const, shape, weightBytes: 70, activationBytes: 10, bytesMoved: 80_000 };
    const table = markdownTable([{ result, copy: { ...timing, bytesMoved: 160_000 } }]);
    expect(table).toContain('| matmul_q8_0 | 2×32 | 4 | 10.0 | — |');
    expect(table).toMatch(/\| 50% \|$/);
  });
});
