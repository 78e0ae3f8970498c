import { describe, expect, it } from 'vitest';
import { bytesSource, readGguf } from '@qgpu/formats';
import { crossQuant, loadReferenceModel, quantizationKernel } from '@qgpu/reference';
import { randomFloats, readSharedBytes } from '@qgpu/testing';
import { collectColumnAbsMax, crossQuantFake, kernelReport, readCalibration, writeCalibration, type KernelCount } from './crossquant.ts';

describe('CrossQuant activation quantization and kernel proportion (methods.md §3)', () => {
  // §3.4: X with an outlier channel 2; c = column absmax of X itself.
  const x = Float32Array.from([0.02, -0.5, 30.0, 0.1, 0.01, 0.4, -25.0, -0.03]);
  const c = Float32Array.from([0.02, 0.5, 30, 0.1]);

  it('worked example: per-token zeroes 4 of 8 (50 %), max abs error 0.1', () => {
    const count: KernelCount = { nonzero: 0, zeroed: 0 };
    const xq = crossQuantFake(x, 2, 4, c, 1, count);
    expect(count).toEqual({ nonzero: 8, zeroed: 4 });
    expect(Math.max(...Array.from(xq, (v, i) => Math.abs(v - x[i]!)))).toBeCloseTo(0.1, 6);
  });

  it('worked example: α = 0.5 zeroes nothing, codes [[3,−16,127,7],[2,14,−116,−2]], max abs error 0.014', () => {
    const count: KernelCount = { nonzero: 0, zeroed: 0 };
    const xq = crossQuantFake(x, 2, 4, c, 0.5, count);
    expect(count.zeroed).toBe(0);
    const delta = (t: number, j: number) => Math.sqrt([30, 25][t]! * c[j]!) / 127;
    const codes = Array.from(xq, (v, i) => Math.round(v / delta(Math.floor(i / 4), i % 4)));
    expect(codes).toEqual([3, -16, 127, 7, 2, 14, -116, -2]);
    expect(Math.max(...Array.from(xq, (v, i) => Math.abs(v - x[i]!)))).toBeLessThan(0.0145);
  });

  it('kernel counts agree with the GPU kernel\'s CPU twin (reference crossQuant + quantizationKernel) at α = 1 and 0.6', () => {
    const n = 7;
    const cols = 64;
    const act = randomFloats(5, n * cols, 1).map((v, i) => (i % cols === 9 ? v * 40 : v));
    const colMax = Float32Array.from({ length: cols }, (_, j) => Math.max(...Array.from({ length: n }, (_, t) => Math.abs(act[t * cols + j]!))));
    for (const alpha of [1, 0.6]) {
      const mine: KernelCount = { nonzero: 0, zeroed: 0 };
      crossQuantFake(act, n, cols, colMax, alpha, mine);
      expect(mine).toEqual(quantizationKernel(act, crossQuant(act, n, cols, colMax, alpha)));
    }
  });

  it('calibration on stories260K: every linear gets a column absmax; the sidecar round-trips; CrossQuant shrinks the kernel', async () => {
    const { config, weights } = await loadReferenceModel(await readGguf(bytesSource(readSharedBytes('models/stories260K/stories260K-f32.gguf'), 'f32')));
    const tokens = Array.from({ length: 96 }, (_, i) => (i === 0 ? 1 : 3 + ((i * 37) % 500)));
    const stats = collectColumnAbsMax(config, weights, tokens, 48);
    expect(stats.size).toBe(5 * 7 + 1);
    expect(stats.get('blk.0.ffn_down.weight')).toHaveLength(172);
    // q, k, v read the same input: identical statistics.
    expect(Array.from(stats.get('blk.3.attn_k.weight')!)).toEqual(Array.from(stats.get('blk.3.attn_q.weight')!));
    const back = await readCalibration(await readGguf(bytesSource(writeCalibration(stats, tokens.length), 'cal.gguf')));
    expect([...back.keys()]).toEqual([...stats.keys()]);
    expect(Array.from(back.get('output.weight')!)).toEqual(Array.from(stats.get('output.weight')!));
    const int8 = new Set([...stats.keys()].filter((k) => !k.includes('ffn_down')));
    const perToken = kernelReport(config, weights, tokens, stats, 1, int8, 48);
    const cross = kernelReport(config, weights, tokens, stats, 0.5, int8, 48);
    expect(perToken.overall.nonzero).toBeGreaterThan(0);
    expect(cross.overall.zeroed / cross.overall.nonzero).toBeLessThan(perToken.overall.zeroed / perToken.overall.nonzero);
  });
});
