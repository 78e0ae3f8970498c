// `qgpu quantize` and `qgpu calibrate` as a user runs them: every file written is read back by the runtime (run
// generates from it), pre-SINQ GGUF keeps llama.cpp's tensor types, failures are one line with a non-zero exit.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesSource, readGguf } from '@qgpu/formats';
import { readCalibration, readGroupQuantized } from '@qgpu/quant';
import { sharedPath, testGpu } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-harness.ts';

const gpu = await testGpu();
// Each case spawns two CLI processes and runs a model; SwiftShader adds nothing the model tests do not cover.
const lavapipeOnly = gpu.adapter === 'swiftshader';
const F32 = sharedPath('models/stories260K/stories260K-f32.gguf');
const dir = mkdtempSync(join(tmpdir(), 'qgpu-quant-'));

describe.skipIf(!gpu.ctx || lavapipeOnly)(`qgpu quantize / calibrate on ${gpu.adapter}${lavapipeOnly ? ' (skipped on SwiftShader: slow, adapter-independent)' : ''}`, () => {
  it.each([
    ['presinq', '4', 'presinq-q4_0'],
    ['sinq', '3', 'sinq3'],
    ['rtn', '2', 'rtn2'],
  ])('--method %s --bits %s writes OUT.gguf (extension added) that `qgpu run` loads and generates from', async (method, bits, name) => {
    const out = join(dir, name);
    const q = runCli(['quantize', '--model', F32, '--method', method, '--bits', bits, '-o', out]);
    expect(q.status, q.stderr).toBe(0);
    expect(existsSync(`${out}.gguf`)).toBe(true);
    const file = await readGguf(bytesSource(new Uint8Array(readFileSync(`${out}.gguf`)), `${name}.gguf`));
    if (method === 'presinq') {
      expect(file.tensors.find((t) => t.name === 'blk.0.attn_q.weight')?.typeName).toBe('Q4_0');
    } else {
      expect(file.metadata.get('qgpu.quant.bits')).toBe(Number(bits));
    }
    if (method === 'sinq') {
      // One t per linear (the paper's setting, the default): q and k, which read the same input, have different t.
      const { quant, colScale: tq } = await readGroupQuantized(file, 'blk.0.attn_q.weight', 64, 64);
      const { colScale: tk } = await readGroupQuantized(file, 'blk.0.attn_k.weight', 32, 64);
      expect(quant.bits).toBe(3);
      expect(Array.from(tk!)).not.toEqual(Array.from(tq!));
    }
    const r = runCli(['run', '--model', `${out}.gguf`, '--prompt', 'Once upon a time', '--max-tokens', '16', '--json', '--adapter', gpu.adapter]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).generated_ids).toHaveLength(16);
  });

  it('fails with one clear line and a non-zero exit on bad options and missing files', () => {
    for (const [args, message] of [
      [['--method', 'gptq', '--bits', '4'], /--method must be one of rtn, sinq, presinq/],
      [['--method', 'sinq', '--bits', '9'], /--bits must be one of 2, 3, 4, 5, 6, 7, 8/],
      [['--method', 'presinq', '--bits', '4', '--format', 'safetensors'], /--format safetensors is for rtn \/ sinq group codes/],
      [['--method', 'sinq', '--bits', '4', '--format', 'onnx'], /--format must be gguf or safetensors/],
      [['--method', 'sinq', '--bits', '4', '--group', '128'], /no linear layer has a width that is a multiple of the group size 128/],
    ] as const) {
      const r = runCli(['quantize', '--model', F32, ...args, '-o', join(dir, 'bad')]);
      expect(r.status).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    const missing = runCli(['quantize', '--model', join(dir, 'nope.gguf'), '--method', 'rtn', '--bits', '4', '-o', join(dir, 'x')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no such file/);
  });

  it('calibrate writes a sidecar with the column absmax of every linear input', async () => {
    const text = join(dir, 'calib.txt');
    writeFileSync(text, 'Once upon a time, there was a little girl named Lily. She loved to play outside with her dog.');
    const r = runCli(['calibrate', '--model', F32, '--file', text, '-o', join(dir, 'calib'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const { output, tokens } = JSON.parse(r.stdout);
    expect(output).toBe(join(dir, 'calib.gguf'));
    expect(tokens).toBeGreaterThan(10);
    const stats = await readCalibration(await readGguf(bytesSource(new Uint8Array(readFileSync(output)), 'calib.gguf')));
    expect(stats.size).toBe(5 * 7 + 1);
    expect(Math.max(...stats.get('blk.0.attn_q.weight')!)).toBeGreaterThan(0);
  });
});
