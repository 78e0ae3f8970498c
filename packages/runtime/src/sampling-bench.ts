// CPU cost of one sampling step on a SmolLM2-sized vocabulary (49,152 logits), for BENCHMARKS.md:
//   node --import tsx packages/runtime/src/sampling-bench.ts
// Greedy decoding never gets here (the argmax stays on the GPU); this is the per-token cost of every other mode.
import { mulberry32 } from '@qgpu/formats';
import { Sampler, type SamplingOptions } from './sampling.ts';

const VOCAB = 49_152;
const next = mulberry32(1);
const logits = Float32Array.from({ length: VOCAB }, () => (next() * 2 - 1) * 8);
const history = Array.from({ length: 64 }, (_, i) => i * 7);
const cases: SamplingOptions[] = [
  { temperature: 0.8 },
  { temperature: 0.8, topK: 40 },
  { temperature: 0.8, topP: 0.95 },
  { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, repetitionPenalty: 1.1 },
];
for (const options of cases) {
  const sampler = new Sampler(options);
  for (let i = 0; i < 10; i++) sampler.sample(logits, history);
  const steps = 200;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) sampler.sample(logits, history);
  console.log(`${JSON.stringify(options)}: ${((performance.now() - t0) / steps).toFixed(2)} ms per token`);
}
