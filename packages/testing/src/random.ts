// Seeded, platform-independent random numbers for test inputs: the same seed gives the same tensors on every
// machine and in every JS engine, so a failing GPU comparison can be reproduced from its seed alone.

import { mulberry32 } from '@qgpu/formats';

// The generator itself is @qgpu/formats' (one copy in the repo); re-exported so tests keep importing it from here.
export { mulberry32 };

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
