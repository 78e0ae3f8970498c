// `pnpm bench --quick --json` on the tiny configuration (stories260K, 2 decode tokens, no peers): the benchmark is
// not a timed test, so this only checks that it runs on the test's adapter and prints the promised JSON object.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testGpu } from '@qgpu/testing';
import { afterAll, describe, expect, it } from 'vitest';

const gpu = await testGpu();
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'qgpu-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!gpu.ctx)(`pnpm bench --quick --json on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  it('prints {"runs":[…],"peers":[]} with one submit per token, and writes the raw record', () => {
    const out = join(dir, 'e2e.json');
    const stdout = execFileSync(process.execPath, [
      '--import', 'tsx', 'packages/bench/src/e2e.ts', '--quick', '--json', '--models', 'stories260K', '--no-peers',
      '--decode-tokens', '2', '--adapter', gpu.adapter === 'auto' ? 'lavapipe' : gpu.adapter, '--json-out', out,
    ], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const summary = JSON.parse(stdout.trim().split('\n').pop()!) as { runs: Record<string, unknown>[]; peers: unknown[] };
    expect(summary.peers).toEqual([]);
    expect(summary.runs).toHaveLength(1);
    const run = summary.runs[0]!;
    expect(Object.keys(run).sort()).toEqual([
      'adapter', 'copy_bandwidth_fraction', 'decode_tok_s', 'dispatches_per_token', 'encode_ms_per_token', 'model', 'prefill_tok_s', 'submits_per_token',
    ]);
    expect(run.model).toBe('stories260K');
    expect(run.submits_per_token).toBe(1);
    for (const key of ['decode_tok_s', 'prefill_tok_s', 'dispatches_per_token', 'encode_ms_per_token', 'copy_bandwidth_fraction']) {
      expect(run[key], key).toBeGreaterThan(0);
    }
    const record = JSON.parse(readFileSync(out, 'utf8')) as { runs: { decode: unknown[] }[] };
    expect(record.runs[0]!.decode).toHaveLength(1);
  });
});
