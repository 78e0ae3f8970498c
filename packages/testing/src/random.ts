// Seeded, platform-independent random numbers for test inputs: the same seed gives the same tensors on every
// machine and in every JS engine, so a failing GPU comparison can be reproduced from its seed alone.

/**
 * mulberry32: a 32-bit-state PRNG (Tommy Ettinger), uniform in [0, 1) with 2^-32 resolution. Not cryptographic;
 * chosen because it is tiny, fast and uses only 32-bit integer ops, so its output is bit-identical everywhere.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` floats uniform in [-scale, scale), rounded to f32, from `seed`. */
export function randomFloats(seed: number, n: number, scale = 1): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() * 2 - 1) * scale;
  return out;
}

/** `n` integers uniform in [0, maxExclusive), e.g. token ids or positions, from `seed`. */
export function randomInts(seed: number, n: number, maxExclusive: number): number[] {
  if (!Number.isInteger(maxExclusive) || maxExclusive <= 0) throw new RangeError(`randomInts: maxExclusive ${maxExclusive} must be a positive integer`);
  const next = mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(next() * maxExclusive));
}
