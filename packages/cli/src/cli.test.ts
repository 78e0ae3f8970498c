// CLI behaviour that needs no GPU: tokenization and the one-line errors (files are validated before any device).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadReference, sharedPath } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-harness.ts';

const model = sharedPath('models/stories260K/stories260K-f32.gguf');

/** The last stderr line, which is the CLI's own message (Dawn may log adapter warnings before it). */
const lastLine = (stderr: string) => stderr.trim().split('\n').at(-1) ?? '';

describe('qgpu CLI', () => {
  it('tokenize --json matches llama.cpp ids (BOS included)', () => {
    for (const { text, ids_with_bos: ids } of loadReference('stories260K-f32').tokenize) {
      const r = runCli(['tokenize', '--model', model, '--text', text, '--json']);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ ids });
    }
  });

  it.each([
    [['run', '--model', '/nonexistent/model.gguf', '--prompt', 'x'], /^qgpu: \/nonexistent\/model.gguf: no such file$/],
    [['run', '--model', sharedPath('models/SHA256SUMS'), '--prompt', 'x'], /^qgpu: SHA256SUMS: not a GGUF file \(bad magic\)$/],
    [['run', '--model', model], /^qgpu: --prompt is required/],
    [['run', '--model', model, '--prompt', 'x', '--max-tokens', 'many'], /^qgpu: --max-tokens must be an integer/],
    [['frobnicate', '--model', model], /^qgpu: unknown command 'frobnicate'/],
  ])('%j fails with one clear line', (args, message) => {
    const r = runCli(args);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('qgpu:'))).toHaveLength(1);
    expect(r.stderr.split('\n').find((l) => l.startsWith('qgpu:'))).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('a truncated GGUF fails with one clear line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qgpu-'));
    const truncated = join(dir, 'truncated.gguf');
    writeFileSync(truncated, new Uint8Array(readFileSync(model)).subarray(0, 5000));
    const r = runCli(['run', '--model', truncated, '--prompt', 'x']);
    expect(r.status).toBe(1);
    expect(lastLine(r.stderr)).toMatch(/^qgpu: truncated.gguf: /);
  });
});
