import { describe, expect, it } from 'vitest';
import { bytesSource, dequantizeLut, lutCode, readGguf, readTensorBytes, type GgufFile } from '@qgpu/formats';
import { loadReferenceModel, ReferenceLlama } from '@qgpu/reference';
import { expectClose, readSharedBytes, TOLERANCES } from '@qgpu/testing';
import { dequantizeGroups, quantizeRtn } from './groups.ts';
import { dequantizedGguf, groupTensorInfos, readGroupQuantized } from './gguf-layout.ts';
import { readTypedMetadata } from './gguf-meta.ts';
import { lutFromGroups } from './lut.ts';
import { quantizeGgufModel } from './model.ts';
import { findBlock, lowerMedian } from './presinq.ts';
import { quantizeSinq, quantizeSinqShared } from './sinq.ts';

const F32_MODEL = 'models/stories260K/stories260K-f32.gguf';
const open = (bytes: Uint8Array, name = 'converted.gguf') => readGguf(bytesSource(bytes, name));
const source = () => open(readSharedBytes(F32_MODEL), 'stories260K-f32.gguf');
const PROMPT = [1, 403, 407, 261, 378, 1144 % 512, 300, 45, 9, 77];

async function logitsOf(file: GgufFile): Promise<Float32Array> {
  const { config, weights } = await loadReferenceModel(file);
  return new ReferenceLlama(config, weights).forward(PROMPT, 0);
}

describe('pre-SINQ folding and GGUF conversion (stories260K)', () => {
  it('findBlock and the median follow the repo (_find_block, torch.median)', () => {
    expect(findBlock(64, 64)).toBe(64);
    expect(findBlock(172, 64)).toBe(43); // divisors of 172: 43 is the closest to 64
    expect(lowerMedian([4, 1, 3, 2])).toBe(2);
  });

  it('folding alone leaves the F32 model\'s logits unchanged (t into attn_norm / ffn_norm / up rows / output_norm)', async () => {
    const file = await source();
    const folded = await open(await quantizeGgufModel(file, { method: 'presinq', target: 'F32' }));
    // The fold did change the weights …
    const q0 = await readTensorBytes(folded, folded.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!);
    const q0Src = await readTensorBytes(file, file.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!);
    expect(Buffer.from(q0).equals(Buffer.from(q0Src))).toBe(false);
    // … but not the function.
    expectClose(await logitsOf(folded), await logitsOf(file), TOLERANCES.presinqFoldLogits, 'presinq fold');
  });

  it('pre-SINQ + Q4_0 gives every tensor the type llama-quantize gave it in stories260K-q4_0.gguf, and keeps its metadata', async () => {
    const file = await source();
    const out = await open(await quantizeGgufModel(file, { method: 'presinq', target: 'Q4_0' }));
    const llamaCpp = await open(readSharedBytes('models/stories260K/stories260K-q4_0.gguf'));
    const types = (f: GgufFile) => Object.fromEntries(f.tensors.map((t) => [t.name, t.typeName]));
    expect(types(out)).toEqual(types(llamaCpp));
    const meta = await readTypedMetadata(out);
    const srcMeta = await readTypedMetadata(file);
    expect(meta['llama.rope.freq_base'] ?? null).toEqual(srcMeta['llama.rope.freq_base'] ?? null);
    expect(meta['llama.attention.layer_norm_rms_epsilon']).toEqual(srcMeta['llama.attention.layer_norm_rms_epsilon']);
    expect(meta['tokenizer.ggml.tokens']).toEqual(srcMeta['tokenizer.ggml.tokens']);
    expect(meta['general.file_type']).toEqual({ type: 'u32', value: 2 });
    // It runs on the reference and stays close to the F32 model's next-token choice.
    const logits = await logitsOf(out);
    expect(logits.every(Number.isFinite)).toBe(true);
  });
});

describe('RTN / SINQ group-quantized GGUF (qgpu layout)', () => {
  it('every linear whose width is whole groups is stored as codes/scales/zeros/t (its own t); ffn_down (172) and norms stay F32', async () => {
    const file = await source();
    const out = await open(await quantizeGgufModel(file, { method: 'sinq', bits: 3, group: 64 }));
    const names = out.tensors.map((t) => t.name);
    expect(names).toContain('blk.0.attn_q.qweight');
    expect(names).toContain('blk.0.attn_q.col_scale');
    expect(names).toContain('blk.4.ffn_gate.zeros');
    expect(names).toContain('output.scales');
    expect(out.tensors.find((t) => t.name === 'blk.0.ffn_down.weight')?.typeName).toBe('F32');
    expect(out.tensors.find((t) => t.name === 'token_embd.weight')?.typeName).toBe('F32');
    expect(names).not.toContain('blk.0.attn_q.weight');
    // Read back: identical to quantizing ffn_up alone (one t per linear, the paper's setting, the default).
    const f32Of = async (name: string) => new Float32Array((await readTensorBytes(file, file.tensors.find((t) => t.name === name)!)).slice().buffer);
    const [gateW, upW] = [await f32Of('blk.2.ffn_gate.weight'), await f32Of('blk.2.ffn_up.weight')];
    const direct = quantizeSinq(upW, 172, 64, { bits: 3, group: 64 });
    const back = await readGroupQuantized(out, 'blk.2.ffn_up.weight', 172, 64);
    expect(Array.from(back.quant.codes)).toEqual(Array.from(direct.quant.codes));
    expect(Array.from(back.quant.scales)).toEqual(Array.from(direct.quant.scales));
    expect(Array.from(back.colScale!)).toEqual(Array.from(direct.colScale));
    // Each of q, k, v has its own t; with sharedInputScale the readers of one input share one (o keeps its own), and
    // gate|up are exactly what quantizeSinqShared gives the pair.
    const t = (f: typeof out) => async (base: string) => Array.from((await readGroupQuantized(f, `${base}.weight`, base.endsWith('q') || base.endsWith('output') ? 64 : 32, 64)).colScale!);
    expect(await t(out)('blk.1.attn_k')).not.toEqual(await t(out)('blk.1.attn_q'));
    const shared = await open(await quantizeGgufModel(file, { method: 'sinq', bits: 3, group: 64, sharedInputScale: true }));
    expect(await t(shared)('blk.1.attn_k')).toEqual(await t(shared)('blk.1.attn_q'));
    expect(await t(shared)('blk.1.attn_v')).toEqual(await t(shared)('blk.1.attn_q'));
    expect(await t(shared)('blk.1.attn_output')).not.toEqual(await t(shared)('blk.1.attn_q'));
    const pair = quantizeSinqShared([{ values: gateW, rows: 172 }, { values: upW, rows: 172 }], 64, { bits: 3, group: 64 })[1]!;
    const sharedUp = await readGroupQuantized(shared, 'blk.2.ffn_up.weight', 172, 64);
    expect(Array.from(sharedUp.quant.codes)).toEqual(Array.from(pair.quant.codes));
    expect(Array.from(sharedUp.colScale!)).toEqual(Array.from(pair.colScale));
    expect(groupTensorInfos(out, 'blk.2.ffn_up.weight').codes!.ne).toEqual([24, 172]); // 64 codes × 3 bits = 24 bytes per row
  });

  it('RTN files carry no t; the dequantized GGUF loads in the reference and is the 8-bit model within 8-bit error', async () => {
    const file = await source();
    const out = await open(await quantizeGgufModel(file, { method: 'rtn', bits: 8, group: 32 }));
    expect(out.tensors.some((t) => t.name.endsWith('.col_scale'))).toBe(false);
    const deq = await open(await dequantizedGguf(out, await readTypedMetadata(out)));
    expect(deq.tensors.find((t) => t.name === 'blk.0.attn_q.weight')?.typeName).toBe('F32');
    expectClose(await logitsOf(deq), await logitsOf(file), TOLERANCES.rtn8ModelLogits, 'rtn8 model');
  });

  it('symmetric RTN writes no zeros tensor; reading back restores z = 2^(bits−1) and the exact codes', async () => {
    const file = await source();
    const out = await open(await quantizeGgufModel(file, { method: 'rtn', bits: 4, group: 32, symmetric: true }));
    expect(out.tensors.some((t) => t.name.endsWith('.zeros'))).toBe(false);
    expect(out.metadata.get('qgpu.quant.symmetric')).toBe(true);
    const src = await readTensorBytes(file, file.tensors.find((t) => t.name === 'blk.1.attn_v.weight')!);
    const direct = quantizeRtn(new Float32Array(src.slice().buffer), 32, 64, { bits: 4, group: 32, symmetric: true });
    const back = await readGroupQuantized(out, 'blk.1.attn_v.weight', 32, 64);
    expect(Array.from(back.quant.codes)).toEqual(Array.from(direct.codes));
    expect(Array.from(back.quant.zeros)).toEqual(Array.from(direct.zeros));
  });

  it('rejects a method without bits, and a non-llama file', async () => {
    const file = await source();
    await expect(quantizeGgufModel(file, { method: 'sinq' })).rejects.toThrow(/--bits is required/);
  });
});

describe('LUT conversion of group codes', () => {
  for (const [bits, group] of [[2, 64], [3, 32], [4, 128], [8, 64]] as const) {
    it(`${bits}-bit group ${group}: lutCode reads back every code and dequantizeLut equals s·(q − z)`, () => {
      const rows = 5;
      const cols = 256;
      const w = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
      const q = quantizeRtn(w, rows, cols, { bits, group });
      const lut = lutFromGroups(q);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expect(lutCode(lut, r, c)).toBe(q.codes[r * cols + c]);
      expect(Array.from(dequantizeLut(lut))).toEqual(Array.from(dequantizeGroups(q)));
    });
  }
});
