// `--kernel-path`: the dp4a and lut paths end to end through the CLI, and the one-line error for a path that does
// not exist (checked before any device is opened).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadReference, sharedPath, testGpu } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-harness.ts';

const gpu = await testGpu();
const model = sharedPath('models/stories260K/stories260K-q4_0.gguf');

describe('qgpu --kernel-path', () => {
  it.each([
    ['int4', /^qgpu: --kernel-path: unknown kernel path 'int4'/],
  ])('--kernel-path %s fails with one clear line', (path, message) => {
    const r = runCli(['run', '--model', model, '--prompt', 'x', '--kernel-path', path]);
    expect(r.status).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('qgpu:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  describe.skipIf(!gpu.ctx)(`on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
    it('run --kernel-path dp4a on stories260K-q4_0 gives llama.cpp\'s greedy ids, and score works', () => {
      const reference = loadReference('stories260K-q4_0').greedy;
      const run = runCli(['run', '--model', model, '--prompt', reference.prompt, '--max-tokens', '64', '--temperature', '0',
        '--json', '--adapter', gpu.adapter, '--kernel-path', 'dp4a']);
      expect(run.status, run.stderr).toBe(0);
      const out = JSON.parse(run.stdout);
      const same = out.generated_ids.filter((id: number, i: number) => id === reference.generated_ids[i]).length;
      console.info(`${gpu.adapter} CLI dp4a stories260K-q4_0: ${same}/64 greedy ids equal llama.cpp's`);
      expect(same).toBeGreaterThanOrEqual(61); // the model tests' ≥ 95 % criterion; measured 64/64 on both adapters

      const textFile = join(mkdtempSync(join(tmpdir(), 'qgpu-')), 'story.txt');
      writeFileSync(textFile, `${reference.prompt}${reference.text}`);
      const score = runCli(['score', '--model', model, '--text-file', textFile, '--json', '--adapter', gpu.adapter, '--kernel-path', 'dp4a']);
      expect(score.status, score.stderr).toBe(0);
      expect(JSON.parse(score.stdout).ppl).toBeLessThan(8);
    });

    // ~2 minutes on SwiftShader; the LUT plan is checked there by lut-model.gpu.test.ts.
    it.skipIf(gpu.adapter === 'swiftshader')(`run and score --kernel-path lut on stories260K-pad256-q4_0 (Q4_0 maps exactly onto 4-bit T-MAC planes)${gpu.adapter === 'swiftshader' ? ' (skipped on SwiftShader: slow, covered by the model test)' : ''}`, () => {
      const lutModel = sharedPath('models/stories260K/stories260K-pad256-q4_0.gguf');
      const run = runCli(['run', '--model', lutModel, '--prompt', 'Once upon a time', '--max-tokens', '16', '--json', '--adapter', gpu.adapter, '--kernel-path', 'lut']);
      expect(run.status, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).generated_ids).toHaveLength(16);
      const textFile = join(mkdtempSync(join(tmpdir(), 'qgpu-')), 'story.txt');
      writeFileSync(textFile, `Once upon a time${loadReference('stories260K-q4_0').greedy.text}`);
      const score = runCli(['score', '--model', lutModel, '--text-file', textFile, '--json', '--adapter', gpu.adapter, '--kernel-path', 'lut']);
      expect(score.status, score.stderr).toBe(0);
      expect(JSON.parse(score.stdout).ppl).toBeLessThan(8);
    }, 600_000); // two CLI processes on the 4×-larger pad256 file: seconds idle, minutes on a loaded 2-core machine

    // Every fixture on every path (formats without an int8 or LUT kernel, and widths not a multiple of 32, fall
    // back to dequant). Lavapipe only: the same plans run on SwiftShader in the model tests, ~10× slower.
    const files = ['f32', 'f16', 'q8_0', 'q4_0', 'q4_k_m', 'pad256-f32', 'pad256-f16', 'pad256-q8_0', 'pad256-q4_0', 'pad256-q4_0-pure', 'pad256-q4_k_m'];
    const matrix = files.flatMap((f) => (['dp4a', 'lut'] as const).map((path) => [f, path] as const));
    it.skipIf(gpu.adapter === 'swiftshader').each(matrix)(`stories260K-%s runs and scores with --kernel-path %s${gpu.adapter === 'swiftshader' ? ' (skipped on SwiftShader: lavapipe-only matrix, ~10× slower there)' : ''}`, (file, path) => {
      const modelFile = sharedPath(`models/stories260K/stories260K-${file}.gguf`);
      const r = runCli(['run', '--model', modelFile, '--prompt', 'Once upon a time', '--max-tokens', '4', '--json', '--adapter', gpu.adapter, '--kernel-path', path]);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).generated_ids).toHaveLength(4);
      // llama.cpp's own greedy story: every file is the same trained function, so each path must find it likely.
      const textFile = join(mkdtempSync(join(tmpdir(), 'qgpu-')), 'story.txt');
      writeFileSync(textFile, `Once upon a time${loadReference('stories260K-q4_0').greedy.text}`);
      const score = runCli(['score', '--model', modelFile, '--text-file', textFile, '--json', '--adapter', gpu.adapter, '--kernel-path', path]);
      expect(score.status, score.stderr).toBe(0);
      const { ppl } = JSON.parse(score.stdout);
      console.info(`${gpu.adapter} CLI ${path} stories260K-${file}: score ppl ${ppl.toFixed(3)}`);
      expect(ppl).toBeLessThan(8);
    }, 600_000); // as above: a run and a score process each
  });
});
