// The sampler against hand-computed cases (each filter on its own, and their order), and its seeded draws against
// the exact filtered distribution computed independently below (plain arrays, no code shared with sampling.ts).
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@qgpu/formats';
import { applyRepetitionPenalty, drawFromSoftmax, filteredDistribution, isGreedy, kthLargest, Sampler, samplingConfig, type SamplingOptions } from './sampling.ts';

const noFilters = { temperature: 1, topK: 0, topP: 1, minP: 0 };
const logitsOfProbs = (probs: number[]) => Float32Array.from(probs, Math.log);

/** The distribution, most likely first (ties by id), for readable expectations. */
function dist(logits: Float32Array, config: Partial<typeof noFilters>) {
  const d = filteredDistribution(logits, { ...noFilters, ...config });
  const order = [...d.ids.keys()].sort((a, b) => d.probs[b]! - d.probs[a]! || d.ids[a]! - d.ids[b]!);
  return { ids: order.map((i) => d.ids[i]!), probs: order.map((i) => d.probs[i]!) };
}

function expectProbs(actual: number[], expected: number[]) {
  expect(actual).toHaveLength(expected.length);
  // f32 logits (log of decimal probabilities) carry ~1e-7 relative error into the softmax.
  actual.forEach((p, i) => expect(p).toBeCloseTo(expected[i]!, 6));
}

describe('repetition penalty (llama.cpp semantics)', () => {
  const logits = Float32Array.from([2, -1, 0.5, 3]);
  it('divides positive and multiplies negative logits of the tokens in the window, once per distinct token', () => {
    expect([...applyRepetitionPenalty(logits, [0, 1, 0], 2, 64)]).toEqual([1, -2, 0.5, 3]);
  });
  it('looks only at the last N tokens; 0 disables it and -1 takes the whole history', () => {
    expect([...applyRepetitionPenalty(logits, [1, 0], 2, 1)]).toEqual([1, -1, 0.5, 3]);
    expect([...applyRepetitionPenalty(logits, [1, 0], 2, 0)]).toEqual([2, -1, 0.5, 3]);
    expect([...applyRepetitionPenalty(logits, [1, 0], 2, -1)]).toEqual([1, -2, 0.5, 3]);
  });
  it('leaves the input untouched', () => {
    applyRepetitionPenalty(logits, [0], 2, 64);
    expect([...logits]).toEqual([2, -1, 0.5, 3]);
  });
});

describe('filters on hand-computed cases', () => {
  const p4 = logitsOfProbs([0.5, 0.3, 0.15, 0.05]);
  it('temperature 1 is the softmax, sorted by probability', () => {
    const d = dist(Float32Array.from([0, Math.log(2)]), {});
    expect(d.ids).toEqual([1, 0]);
    expectProbs(d.probs, [2 / 3, 1 / 3]);
  });
  it('temperature sharpens (T < 1) and flattens (T > 1)', () => {
    expectProbs(dist(Float32Array.from([0, Math.log(2)]), { temperature: 0.5 }).probs, [0.8, 0.2]);
    expectProbs(dist(Float32Array.from([0, Math.log(2)]), { temperature: 2 }).probs, [Math.SQRT2 / (1 + Math.SQRT2), 1 / (1 + Math.SQRT2)]);
  });
  it('top-k keeps the k largest logits', () => {
    const d = dist(Float32Array.from([1, 3, 2, 0]), { topK: 2 });
    expect(d.ids).toEqual([1, 2]);
    expectProbs(d.probs, [Math.E / (Math.E + 1), 1 / (Math.E + 1)]);
  });
  it('top-p keeps the shortest prefix whose mass reaches p', () => {
    expect(dist(p4, { topP: 0.75 }).ids).toEqual([0, 1]);
    expectProbs(dist(p4, { topP: 0.75 }).probs, [0.625, 0.375]);
    expectProbs(dist(p4, { topP: 0.81 }).probs, [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95]);
    expect(dist(p4, { topP: 0.4 }).ids).toEqual([0]);
  });
  it('min-p drops tokens below minP × the top probability', () => {
    expect(dist(p4, { minP: 0.25 }).ids).toEqual([0, 1, 2]);
    expect(dist(p4, { minP: 0.7 }).ids).toEqual([0]);
    expectProbs(dist(p4, { minP: 0.7 }).probs, [1]);
  });
  it('top-p and min-p see the probabilities before temperature (llama.cpp order)', () => {
    // Before temperature p = (0.5, 0.3, …): top-p 0.6 keeps two tokens. Tempered first (T = 0.5) the top token alone
    // would have 0.685 ≥ 0.6 and be the only one kept.
    const d = dist(p4, { topP: 0.6, temperature: 0.5 });
    expect(d.ids).toEqual([0, 1]);
    expectProbs(d.probs, [0.25 / 0.34, 0.09 / 0.34]);
  });
  it('breaks logit ties by the lower id', () => {
    expect(dist(Float32Array.from([1, 2, 2, 1]), { topK: 1 }).ids).toEqual([1]);
  });
});

describe('greedy', () => {
  it('is the GPU path only without a repetition penalty', () => {
    expect(isGreedy(samplingConfig({}))).toBe(true);
    expect(isGreedy(samplingConfig({ repetitionPenalty: 1.1 }))).toBe(false);
    expect(isGreedy(samplingConfig({ repetitionPenalty: 1.1, repetitionLastN: 0 }))).toBe(true);
    expect(isGreedy(samplingConfig({ temperature: 0.7 }))).toBe(false);
  });
  it('at temperature 0 picks the argmax of the penalised logits', () => {
    const s = new Sampler({ repetitionPenalty: 2 });
    expect(s.sample(Float32Array.from([2, -1, 1.5, 0]), [])).toBe(0);
    expect(s.sample(Float32Array.from([2, -1, 1.5, 0]), [0])).toBe(2);
  });
});

describe('options', () => {
  it.each<[SamplingOptions, RegExp]>([
    [{ temperature: -1 }, /temperature/],
    [{ temperature: Number.NaN }, /temperature/],
    [{ topK: 1.5 }, /topK/],
    [{ topP: 0 }, /topP/],
    [{ topP: 1.5 }, /topP/],
    [{ minP: -0.1 }, /minP/],
    [{ repetitionPenalty: 0 }, /repetitionPenalty/],
    [{ repetitionLastN: -2 }, /repetitionLastN/],
    [{ seed: 0.5 }, /seed/],
  ])('rejects %j', (options, message) => {
    expect(() => new Sampler(options)).toThrow(message);
  });
});

/** The exact distribution, written independently: objects, sort, filter; llama.cpp's order and semantics. */
function independentDistribution(logits: number[], history: number[], o: Required<Omit<SamplingOptions, 'seed'>>): Map<number, number> {
  const recent = new Set(o.repetitionLastN < 0 ? history : history.slice(-o.repetitionLastN));
  let c = logits.map((l, id) => ({ id, l: recent.has(id) ? (l > 0 ? l / o.repetitionPenalty : l * o.repetitionPenalty) : l }));
  c.sort((a, b) => b.l - a.l);
  if (o.topK > 0) c = c.slice(0, o.topK);
  const softmax = (xs: { l: number }[], t: number) => {
    const e = xs.map((x) => Math.exp(x.l / t));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  let p = softmax(c, 1);
  if (o.topP < 1) {
    let mass = 0;
    const keepP = p.findIndex((v) => (mass += v) >= o.topP);
    c = c.slice(0, keepP + 1);
    p = softmax(c, 1);
  }
  c = c.filter((_, i) => p[i]! >= o.minP * p[0]!);
  const final = softmax(c, o.temperature);
  return new Map(c.map((x, i) => [x.id, final[i]!]));
}

const draws = 20_000;

describe('seeded draws', () => {
  const logits = [1.2, -0.3, 2.5, 0.7, 2.1, -1.5, 0.9, 1.8];
  const history = [2, 5, 7];
  const options = { temperature: 0.8, topK: 6, topP: 0.9, minP: 0.05, repetitionPenalty: 1.3, repetitionLastN: 2 };

  it('follow the exact filtered softmax (chi-square, 20k draws)', () => {
    const expected = independentDistribution(logits, history, options);
    const sampler = new Sampler({ ...options, seed: 1234 });
    const counts = new Map<number, number>();
    const input = Float32Array.from(logits);
    for (let i = 0; i < draws; i++) {
      const id = sampler.sample(input, history);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    // Filtered-out tokens never appear.
    for (const id of counts.keys()) expect(expected.has(id), `token ${id} should have been filtered out`).toBe(true);
    let chi2 = 0;
    for (const [id, p] of expected) chi2 += ((counts.get(id) ?? 0) - draws * p) ** 2 / (draws * p);
    // 99.9% quantile of chi-square with (k − 1) degrees of freedom, k ≤ 6 here: 20.52 for 5 dof.
    expect(expected.size).toBeGreaterThanOrEqual(3);
    expect(expected.size).toBeLessThanOrEqual(6);
    expect(chi2).toBeLessThan(20.52);
  });

  it('are reproducible from the seed, and differ between seeds', () => {
    const run = (seed: number) => {
      const s = new Sampler({ ...options, seed });
      return Array.from({ length: 64 }, () => s.sample(Float32Array.from(logits), history));
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });
});

describe('the fast paths agree with the plain definitions', () => {
  it('kthLargest equals sorting, with ties and repeated values', () => {
    const next = mulberry32(21);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(next() * 300);
      const values = Float32Array.from({ length: n }, () => Math.round(next() * 20) / 4);
      const sorted = [...values].sort((a, b) => b - a);
      const k = 1 + Math.floor(next() * n);
      expect(kthLargest(values, k)).toBe(sorted[k - 1]);
    }
  });

  it('filteredDistribution equals the independent sort-and-filter implementation on 300 random cases', () => {
    const next = mulberry32(5);
    for (let trial = 0; trial < 300; trial++) {
      const n = 2 + Math.floor(next() * 400);
      // Rounded so that ties occur; a wide spread so that top-p needs more than one logit window sometimes.
      // Rounded to f32 first, so both sides see the same values.
      const logits = [...Float32Array.from({ length: n }, () => Math.round((next() * 2 - 1) * 400) / 10)];
      const o = {
        temperature: 0.2 + next() * 2,
        topK: next() < 0.5 ? 0 : 1 + Math.floor(next() * n),
        topP: next() < 0.3 ? 1 : 0.05 + next() * 0.9,
        minP: next() < 0.5 ? 0 : next() * 0.5,
        repetitionPenalty: 1,
        repetitionLastN: 0,
      };
      const expected = [...independentDistribution(logits, [], o)].sort((a, b) => a[0] - b[0]);
      const actual = filteredDistribution(Float32Array.from(logits), o);
      expect([...actual.ids], JSON.stringify(o)).toEqual(expected.map(([id]) => id));
      [...actual.probs].forEach((p, i) => expect(p).toBeCloseTo(expected[i]![1], 9));
    }
  });

  it('without filters the sampler draws from the full softmax unsorted (chi-square, 20k draws)', () => {
    const logits = [0.5, 2, -1, 1.5, 0, 1];
    const temperature = 1.3;
    const expected = independentDistribution(logits, [], { temperature, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, repetitionLastN: 0 });
    const random = mulberry32(77);
    const counts = new Map<number, number>();
    for (let i = 0; i < draws; i++) {
      const id = drawFromSoftmax(Float32Array.from(logits), temperature, random);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    let chi2 = 0;
    for (const [id, p] of expected) chi2 += ((counts.get(id) ?? 0) - draws * p) ** 2 / (draws * p);
    // 99.9% quantile of chi-square with 5 degrees of freedom.
    expect(chi2).toBeLessThan(20.52);
  });
});
