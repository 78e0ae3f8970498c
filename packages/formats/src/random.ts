// The project's one seeded PRNG. It lives in @qgpu/formats because that package sits at the bottom of the workspace
// graph: the runtime's sampler, @qgpu/testing's input generators and the quant tests all import it from here.

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
