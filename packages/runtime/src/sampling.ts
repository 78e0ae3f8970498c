/** mulberry32: a tiny seeded PRNG, so sampling with the same seed gives the same tokens on every platform. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Samples from softmax(logits / temperature); temperature must be > 0 (greedy runs on the GPU instead). */
export function sampleTemperature(logits: Float32Array, temperature: number, random: () => number): number {
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new RangeError(`temperature must be a positive number, got ${temperature}`);
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const weights = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    weights[i] = Math.exp((logits[i]! - max) / temperature);
    sum += weights[i]!;
  }
  let r = random() * sum;
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!;
    if (r <= 0) return i;
  }
  return weights.length - 1;
}
