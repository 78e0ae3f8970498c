// `qgpu quantize --format safetensors`: the HF model directory it writes (model.safetensors in the qgpu.quant
// convention, config.json, tokenizer.gguf) loads back through the HF path into exactly the tensors of the same
// quantization written as GGUF, so the logits are equal, and `qgpu run --model DIR` generates what the GGUF does.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesSource, findQuantizedLinear, readGguf, readQuantHeader, readSafetensors, readSafetensorsBytes, readTensorBytes } from '@qgpu/formats';
import type { DeviceContext } from '@qgpu/gpu';
import { LlamaModel, openHfModel, permuteGgufToHf } from '@qgpu/runtime';
import { sharedPath, testGpu } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-harness.ts';
import { nodeModelSource } from './hf-dir.ts';

const gpu = await testGpu();
const F32 = sharedPath('models/stories260K/stories260K-f32.gguf');
const dir = mkdtempSync(join(tmpdir(), 'qgpu-quant-st-'));
// down_proj's width 172 is not a multiple of 64: it stays unquantized (F32 `.weight`), as in the GGUF.
const LINEARS = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj'];

// Spawns the CLI three times and runs the model twice; SwiftShader adds nothing the GGUF model tests do not cover.
const skipReason = !gpu.ctx ? gpu.reason : gpu.adapter === 'swiftshader' ? 'lavapipe only: slow on SwiftShader, the loading path is adapter-independent' : '';
describe.skipIf(skipReason !== '')(`qgpu quantize --format safetensors on ${gpu.adapter}${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('sinq 4-bit g64: the directory validates, loads to the GGUF quantization byte for byte, equal logits, same generation', async () => {
    const common = ['quantize', '--model', F32, '--method', 'sinq', '--bits', '4', '--group', '64'];
    const st = runCli([...common, '--format', 'safetensors', '-o', join(dir, 'sinq4'), '--json']);
    expect(st.status, st.stderr).toBe(0);
    const out = JSON.parse(st.stdout).output as string;
    expect(out).toBe(join(dir, 'sinq4'));
    for (const f of ['model.safetensors', 'config.json', 'tokenizer.gguf']) expect(existsSync(join(out, f)), f).toBe(true);
    const gg = runCli([...common, '-o', join(dir, 'sinq4')]);
    expect(gg.status, gg.stderr).toBe(0);
    const gguf = await readGguf(bytesSource(new Uint8Array(readFileSync(join(dir, 'sinq4.gguf'))), 'sinq4.gguf'));

    // The safetensors reader's validation: header, and every linear's parts checked against each other.
    const st4 = await readSafetensors(bytesSource(new Uint8Array(readFileSync(join(out, 'model.safetensors'))), 'model.safetensors'));
    const header = readQuantHeader(st4)!;
    expect(header).toEqual({ method: 'sinq', bits: 4, group: 64, symmetric: false });
    for (let l = 0; l < 5; l++) {
      for (const linear of LINEARS) {
        const info = findQuantizedLinear(st4, header, `model.layers.${l}.${linear}`);
        expect(info?.colScale, linear).toBeDefined();
        expect(st4.tensors.some((t) => t.name === `model.layers.${l}.${linear}.weight`)).toBe(false);
      }
      expect(findQuantizedLinear(st4, header, `model.layers.${l}.mlp.down_proj`)).toBeUndefined();
      expect(st4.tensors.find((t) => t.name === `model.layers.${l}.mlp.down_proj.weight`)?.dtype).toBe('F32');
    }
    // q rows are stored in HF (rotate_half) order: the GGUF's codes with the inverse RoPE permutation (8 heads).
    const qGguf = gguf.tensors.find((t) => t.name === 'blk.0.attn_q.qweight')!;
    const qHf = st4.tensors.find((t) => t.name === 'model.layers.0.self_attn.q_proj.qweight')!;
    const qGgufBytes = await readTensorBytes(gguf, qGguf);
    expect(Array.from(await readSafetensorsBytes(st4, qHf))).toEqual(Array.from(permuteGgufToHf(qGgufBytes, 8, qGguf.ne[0]!)));
    expect(Array.from(await readSafetensorsBytes(st4, qHf))).not.toEqual(Array.from(qGgufBytes));

    // Loaded through the HF path, every tensor the loader reads is the GGUF file's tensor, byte for byte.
    const hf = await openHfModel(await nodeModelSource(out) as Parameters<typeof openHfModel>[0]);
    expect(hf.metadata.get('qgpu.quant.bits')).toBe(4);
    expect(hf.metadata.get('tokenizer.ggml.tokens')).toEqual(gguf.metadata.get('tokenizer.ggml.tokens'));
    expect(hf.tensors.map((t) => t.name).sort()).toEqual(gguf.tensors.map((t) => t.name).sort());
    for (const t of hf.tensors) {
      const g = gguf.tensors.find((x) => x.name === t.name)!;
      expect([t.typeName, ...t.ne], t.name).toEqual([g.typeName, ...g.ne]);
      expect(Buffer.from(await readTensorBytes(hf, t)).equals(Buffer.from(await readTensorBytes(gguf, g))), t.name).toBe(true);
    }

    const ctx = gpu.ctx as DeviceContext;
    const prompt = [1, 403, 407, 261, 378];
    const logitsOf = async (file: typeof gguf) => {
      const model = await LlamaModel.load(ctx, file);
      const { logits } = await model.forward(prompt, 0, 'all');
      model.destroy();
      return logits;
    };
    const fromHf = await logitsOf(hf);
    const fromGguf = await logitsOf(gguf);
    expect(fromHf).toHaveLength(prompt.length);
    // Same codes, same kernels: bit-identical.
    fromHf.forEach((row, i) => expect(Array.from(row)).toEqual(Array.from(fromGguf[i]!)));

    const run = (model: string) => runCli(['run', '--model', model, '--prompt', 'Once upon a time', '--max-tokens', '16', '--json', '--adapter', gpu.adapter]);
    const a = run(out);
    const b = run(join(dir, 'sinq4.gguf'));
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    expect(JSON.parse(a.stdout).generated_ids).toHaveLength(16);
    expect(JSON.parse(a.stdout).generated_ids).toEqual(JSON.parse(b.stdout).generated_ids);
  });

  it('pre-SINQ is GGUF only: --format safetensors fails with one line', () => {
    const r = runCli(['quantize', '--model', F32, '--method', 'presinq', '--bits', '4', '--format', 'safetensors', '-o', join(dir, 'p')]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/pre-SINQ writes standard GGUF block types/);
  });
});
