// `qgpu perplexity … --json` as a user runs it: the JSON fields, and RoPE's perplexity reproduced by 3D-RPE whose one
// chunk covers the context (the issue's required property, here end to end through the flags).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadReference, sharedPath, testGpu, TOLERANCES } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-harness.ts';

const gpu = await testGpu();
// Each CLI run loads the model in a fresh process; SwiftShader compiles every pipeline per run (~30 s each), and the
// same plans are covered there by the runtime's position-encoding and perplexity tests.
const lavapipeOnly = gpu.adapter === 'swiftshader';

describe.skipIf(!gpu.ctx || lavapipeOnly)(`qgpu perplexity on ${gpu.adapter}${lavapipeOnly ? ' (skipped on SwiftShader: one model load per CLI run)' : gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  it('--json reports the llama-perplexity counts; --position-encoding 3d-rpe with one chunk gives RoPE\'s ppl', () => {
    const story = `Once upon a time${loadReference('stories260K-f32').greedy.text}`;
    const textFile = join(mkdtempSync(join(tmpdir(), 'qgpu-')), 'story.txt');
    writeFileSync(textFile, Array(3).fill(story).join('\n'));
    const run = (...flags: string[]) => {
      const r = runCli(['perplexity', '--model', sharedPath('models/stories260K/stories260K-f32.gguf'), '--file', textFile, '--context', '64', '--json', '--adapter', gpu.adapter, ...flags]);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { ppl: number; windows: number; context: number; scored: number; tokens: number; windowPpl: number[] };
    };
    const rope = run();
    expect(rope.context).toBe(64);
    expect(rope.windows).toBe(Math.floor(rope.tokens / 64));
    expect(rope.scored).toBe(rope.windows * (64 - 1 - 32));
    expect(rope.windowPpl).toHaveLength(rope.windows);
    const eq4 = run('--position-encoding', '3d-rpe', '--chunk-size', '64');
    expect(Math.abs(eq4.ppl - rope.ppl)).toBeLessThanOrEqual(TOLERANCES.perplexityEncodingVsRope.rtol * rope.ppl);
    const linear = run('--position-encoding', 'linear', '--linear-factor', '4');
    expect(linear.ppl).not.toBeCloseTo(rope.ppl, 2);
  });
});
