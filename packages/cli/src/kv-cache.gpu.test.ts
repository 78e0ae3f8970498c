// `--kv-cache` and `--context-overflow` through the CLI: one-line errors for bad values (before any device is
// opened), and the int8 cache with a context that fills, stopping or shifting.
import { loadReference, sharedPath, testGpu } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-harness.ts';

const gpu = await testGpu();
const model = sharedPath('models/stories260K/stories260K-f32.gguf');

describe('qgpu --kv-cache / --context-overflow', () => {
  it.each([
    [['--kv-cache', 'q4'], /^qgpu: --kv-cache: unknown KV cache type 'q4'/],
    [['--context-overflow', 'wrap'], /^qgpu: --context-overflow: unknown context overflow policy 'wrap'/],
  ])('%j fails with one clear line', (flags, message) => {
    const r = runCli(['run', '--model', model, '--prompt', 'x', ...flags]);
    expect(r.status).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('qgpu:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  describe.skipIf(!gpu.ctx)(`on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
    it.skipIf(gpu.adapter === 'swiftshader')(`run --kv-cache int8 --context 24: context_full with its reason, then --context-overflow shift keeps going${gpu.adapter === 'swiftshader' ? ' (skipped on SwiftShader: two model runs, ~10× slower; the kernels and engine are covered there by the runtime tests)' : ''}`, { timeout: 300_000 }, () => {
      const reference = loadReference('stories260K-f32').greedy;
      const base = ['run', '--model', model, '--prompt', reference.prompt, '--max-tokens', '40', '--temperature', '0', '--json',
        '--adapter', gpu.adapter, '--kv-cache', 'int8', '--context', '24'];
      const stopped = runCli(base);
      expect(stopped.status, stopped.stderr).toBe(0);
      const out = JSON.parse(stopped.stdout);
      expect(out.stop_reason).toBe('context_full');
      expect(out.stop_detail).toMatch(/KV cache is full/);
      expect(out.generated_ids).toHaveLength(24 - reference.prompt_token_ids.length + 1);
      const shifted = runCli([...base, '--context-overflow', 'shift']);
      expect(shifted.status, shifted.stderr).toBe(0);
      const more = JSON.parse(shifted.stdout);
      expect(more.stop_reason).toBe('max_tokens');
      expect(more.generated_ids).toHaveLength(40);
      expect(more.context_shifts).toBeGreaterThanOrEqual(1);
      expect(more.generated_ids.slice(0, out.generated_ids.length)).toEqual(out.generated_ids);
    });
  });
});
