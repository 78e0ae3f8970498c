// HF → GGUF conversion on the CPU: the q/k row permutation leaves attention scores unchanged (HF rotate_half RoPE
// vs GGUF interleaved RoPE, computed independently here), stories260K survives GGUF → HF → virtual GGUF byte for
// byte, quantize-on-load with RTN writes what llama.cpp's llama-quantize wrote, and config/name errors are typed.
import {
  bf16ArrayToF32, bytesSource, f32ArrayToBf16, FormatError, QUANT_KEYS, QUANT_SUFFIXES, quantize, readGguf, readTensorBytes, tensorToF32,
  type GgufFile, type SupportedTensorType,
} from '@qgpu/formats';
import { dequantizeGroups, quantizeRtn, quantizeSinq, readGroupQuantized } from '@qgpu/quant';
import { loadReferenceModel, ReferenceLlama } from '@qgpu/reference';
import { mulberry32, readSharedBytes } from '@qgpu/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { ggufNameOfHf, llamaMetadataFromHfConfig, openHfLlama, permuteGgufToHf, permuteHfToGguf } from './hf.ts';
import { hfCheckpointFromGguf } from './hf-convert.ts';
import { llamaConfigFromGguf } from './config.ts';

const openShared = (name: string) => readGguf(bytesSource(readSharedBytes(`models/stories260K/${name}`), name));

/** y = W x for W [rows, cols] row-major. */
const matVec = (w: Float32Array, x: Float64Array, rows: number, cols: number) =>
  Float64Array.from({ length: rows }, (_, r) => x.reduce((s, xv, c) => s + w[r * cols + c]! * xv, 0));

/** HF (rotate_half) RoPE on one head: pairs (i, i + d/2). */
function ropeRotateHalf(v: Float64Array, pos: number, base: number): Float64Array {
  const d = v.length, half = d / 2, out = new Float64Array(d);
  for (let i = 0; i < half; i++) {
    const a = pos * base ** ((-2 * i) / d);
    out[i] = v[i]! * Math.cos(a) - v[i + half]! * Math.sin(a);
    out[i + half] = v[i + half]! * Math.cos(a) + v[i]! * Math.sin(a);
  }
  return out;
}

/** GGUF / llama.cpp normal-mode RoPE on one head: adjacent pairs (2i, 2i + 1). */
function ropeInterleaved(v: Float64Array, pos: number, base: number): Float64Array {
  const d = v.length, out = new Float64Array(d);
  for (let i = 0; i < d / 2; i++) {
    const a = pos * base ** ((-2 * i) / d);
    out[2 * i] = v[2 * i]! * Math.cos(a) - v[2 * i + 1]! * Math.sin(a);
    out[2 * i + 1] = v[2 * i + 1]! * Math.cos(a) + v[2 * i]! * Math.sin(a);
  }
  return out;
}

describe('q/k permutation HF rotate_half → GGUF interleaved', () => {
  it('leaves every query-key attention score unchanged (GQA, several positions)', () => {
    const random = mulberry32(7);
    const [nHeads, nKv, headDim, dim, base] = [4, 2, 8, 12, 10000];
    const wq = Float32Array.from({ length: nHeads * headDim * dim }, () => random() * 2 - 1);
    const wk = Float32Array.from({ length: nKv * headDim * dim }, () => random() * 2 - 1);
    const toF32 = (b: Uint8Array) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    const wqG = toF32(permuteHfToGguf(new Uint8Array(wq.buffer), nHeads, dim * 4));
    const wkG = toF32(permuteHfToGguf(new Uint8Array(wk.buffer), nKv, dim * 4));
    expect(Array.from(wqG)).not.toEqual(Array.from(wq));
    const x1 = Float64Array.from({ length: dim }, () => random() * 2 - 1);
    const x2 = Float64Array.from({ length: dim }, () => random() * 2 - 1);
    const head = (v: Float64Array, h: number) => v.subarray(h * headDim, (h + 1) * headDim);
    const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
    for (const [p1, p2] of [[0, 0], [5, 2], [37, 11]] as const) {
      const [qH, kH, qG, kG] = [matVec(wq, x1, nHeads * headDim, dim), matVec(wk, x2, nKv * headDim, dim), matVec(wqG, x1, nHeads * headDim, dim), matVec(wkG, x2, nKv * headDim, dim)];
      for (let h = 0; h < nHeads; h++) {
        const kv = Math.floor(h / (nHeads / nKv));
        const hf = dot(ropeRotateHalf(head(qH, h), p1, base), ropeRotateHalf(head(kH, kv), p2, base));
        const gguf = dot(ropeInterleaved(head(qG, h), p1, base), ropeInterleaved(head(kG, kv), p2, base));
        expect(Math.abs(gguf - hf)).toBeLessThan(1e-9 * Math.max(1, Math.abs(hf)));
      }
    }
  });

  it('is inverted by permuteGgufToHf, and matches the index formula on a hand-checked head of 4', () => {
    // One head, d = 4, one byte per row: HF rows [c0, c1, s0, s1] → GGUF [c0, s0, c1, s1].
    expect(Array.from(permuteHfToGguf(Uint8Array.of(10, 11, 20, 21), 1, 1))).toEqual([10, 20, 11, 21]);
    const rows = Uint8Array.from({ length: 3 * 6 * 2 }, (_, i) => i);
    expect(Array.from(permuteGgufToHf(permuteHfToGguf(rows, 3, 2), 3, 2))).toEqual(Array.from(rows));
  });
});

describe('HF names and config.json', () => {
  it('maps Llama tensor names and refuses modules it would silently drop', () => {
    expect(ggufNameOfHf('model.layers.12.self_attn.k_proj.weight')).toBe('blk.12.attn_k.weight');
    expect(ggufNameOfHf('model.layers.0.mlp.down_proj.weight')).toBe('blk.0.ffn_down.weight');
    expect(ggufNameOfHf('lm_head.weight')).toBe('output.weight');
    expect(ggufNameOfHf('model.layers.3.self_attn.rotary_emb.inv_freq')).toBeUndefined();
    expect(() => ggufNameOfHf('model.layers.0.self_attn.q_proj.bias', 'm.safetensors')).toThrow(/m.safetensors: tensor 'model.layers.0.self_attn.q_proj.bias'/);
  });

  it('turns SmolLM2-135M config.json into llama.cpp metadata', () => {
    const config = JSON.parse(new TextDecoder().decode(readSharedBytes('models/tokenizers/smollm2-135m/config.json')));
    const metadata = llamaMetadataFromHfConfig(config);
    expect(Object.fromEntries([...metadata].filter(([k]) => k.startsWith('llama.')))).toEqual({
      'llama.embedding_length': 576, 'llama.feed_forward_length': 1536, 'llama.block_count': 30, 'llama.attention.head_count': 9,
      'llama.attention.head_count_kv': 3, 'llama.attention.key_length': 64, 'llama.attention.value_length': 64, 'llama.rope.dimension_count': 64,
      'llama.rope.freq_base': 100000, 'llama.context_length': 8192, 'llama.attention.layer_norm_rms_epsilon': 1e-5, 'llama.vocab_size': 49152,
    });
  });

  it('maps rope_scaling like llama.cpp’s converter and refuses types the kernels lack, and other architectures', () => {
    const base = { model_type: 'llama', hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4, max_position_embeddings: 128, vocab_size: 10 };
    const linear = llamaMetadataFromHfConfig({ ...base, rope_scaling: { type: 'linear', factor: 2 } });
    expect([linear.get('llama.rope.scaling.type'), linear.get('llama.rope.scaling.factor')]).toEqual(['linear', 2]);
    const yarn = llamaMetadataFromHfConfig({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32 } });
    expect([yarn.get('llama.rope.scaling.type'), yarn.get('llama.rope.scaling.factor'), yarn.get('llama.rope.scaling.original_context_length')]).toEqual(['yarn', 4, 32]);
    expect(() => llamaMetadataFromHfConfig({ ...base, rope_scaling: { rope_type: 'llama3', factor: 8 } })).toThrow(/rope_scaling type "llama3" is not supported/);
    expect(() => llamaMetadataFromHfConfig({ ...base, rope_scaling: { type: 'dynamic', factor: 2 } }, 'c.json')).toThrow(/c.json: rope_scaling type "dynamic"/);
    expect(() => llamaMetadataFromHfConfig({ ...base, model_type: 'qwen2' })).toThrow(FormatError);
    expect(() => llamaMetadataFromHfConfig({ ...base, hidden_size: 0 })).toThrow(/hidden_size must be a positive integer/);
    expect(() => llamaMetadataFromHfConfig({ ...base, attention_bias: true })).toThrow(/attention_bias/);
  });
});

describe('stories260K through a Hugging Face checkpoint', () => {
  let gguf: GgufFile;
  beforeAll(async () => {
    gguf = await openShared('stories260K-f32.gguf');
  });
  const hfFiles = async (dtype: 'F32' | 'BF16' | 'F16' = 'F32') => {
    const { config, safetensors } = await hfCheckpointFromGguf(gguf, dtype);
    return { config, safetensors: bytesSource(safetensors, 'model.safetensors'), name: 'stories260K-hf' };
  };

  it('GGUF → HF → virtual GGUF gives every tensor back byte for byte, with the same names, shapes and config', async () => {
    const virtual = await openHfLlama(await hfFiles());
    const original = new Map(gguf.tensors.map((t) => [t.name, t]));
    expect(virtual.tensors.map((t) => t.name).sort()).toEqual(gguf.tensors.map((t) => t.name).sort());
    for (const t of virtual.tensors) {
      const o = original.get(t.name)!;
      expect({ name: t.name, ne: t.ne, type: t.typeName }).toEqual({ name: o.name, ne: o.ne, type: o.typeName });
      expect(Buffer.from(await readTensorBytes(virtual, t)).equals(Buffer.from(await readTensorBytes(gguf, o)))).toBe(true);
    }
    expect({ ...llamaConfigFromGguf(virtual), name: '' }).toEqual({ ...llamaConfigFromGguf(gguf), name: '' });
    await expect(virtual.source.read(1, 4)).rejects.toThrow(FormatError);
  });

  it('BF16 checkpoints are widened to F32 exactly (values equal the bf16-rounded originals)', async () => {
    const virtual = await openHfLlama(await hfFiles('BF16'));
    const q = virtual.tensors.find((t) => t.name === 'blk.1.attn_q.weight')!;
    expect(q.typeName).toBe('F32');
    const o = gguf.tensors.find((t) => t.name === q.name)!;
    const expected = bf16ArrayToF32(f32ArrayToBf16(tensorToF32('F32', await readTensorBytes(gguf, o), o.elementCount) as Float32Array));
    expect(Array.from(tensorToF32('F32', await readTensorBytes(virtual, q), q.elementCount))).toEqual(Array.from(expected));
    const f16 = await openHfLlama(await hfFiles('F16'));
    expect(f16.tensors.find((t) => t.name === q.name)!.typeName).toBe('F16');
  });

  it('RTN on load at 8 bits writes the tensors llama.cpp’s llama-quantize wrote into stories260K-q8_0.gguf', async () => {
    const virtual = await openHfLlama(await hfFiles(), { quantize: { method: 'rtn', bits: 8 } });
    const llamaCpp = await openShared('stories260K-q8_0.gguf');
    const theirs = new Map(llamaCpp.tensors.map((t) => [t.name, t]));
    for (const t of virtual.tensors) {
      const o = theirs.get(t.name)!;
      expect({ name: t.name, type: t.typeName }).toEqual({ name: t.name, type: o.typeName });
      expect(Buffer.from(await readTensorBytes(virtual, t)).equals(Buffer.from(await readTensorBytes(llamaCpp, o))), t.name).toBe(true);
    }
  });

  it('pre-SINQ fold + Q4_0/Q8_0 on load keeps the logits close to F32 at 8 and 4 bits, as RTN does', async () => {
    const f32 = await loadReferenceModel(gguf);
    const tokens = [1, 403, 407, 261, 378, 429, 289, 270, 440, 492];
    const expected = new ReferenceLlama(f32.config, f32.weights).forward(tokens, 0);
    const rel = async (method: 'rtn' | 'presinq', bits: 4 | 8) => {
      const q = await loadReferenceModel(await openHfLlama(await hfFiles(), { quantize: { method, bits } }));
      const got = new ReferenceLlama(q.config, q.weights).forward(tokens, 0);
      let num = 0, den = 0;
      for (let i = 0; i < got.length; i++) { num += (got[i]! - expected[i]!) ** 2; den += expected[i]! ** 2; }
      return Math.sqrt(num / den);
    };
    const [rtn8, sinq8, rtn4, sinq4] = [await rel('rtn', 8), await rel('presinq', 8), await rel('rtn', 4), await rel('presinq', 4)];
    console.info(`stories260K logits relative RMS error vs F32: RTN8 ${rtn8.toFixed(4)} preSINQ8 ${sinq8.toFixed(4)} RTN4 ${rtn4.toFixed(4)} preSINQ4 ${sinq4.toFixed(4)}`);
    expect(rtn8).toBeLessThan(0.02);
    expect(sinq8).toBeLessThan(0.02);
    expect(rtn4).toBeLessThan(0.3);
    expect(sinq4).toBeLessThan(0.3);
    // Different methods really ran: the folded model's weights differ from RTN's.
    expect(sinq4).not.toBe(rtn4);
  });

  it('refuses quantize settings no stored format has', async () => {
    await expect(openHfLlama(await hfFiles(), { quantize: { method: 'rtn', bits: 9 } })).rejects.toThrow(/bits must be 2..8/);
    await expect(openHfLlama(await hfFiles(), { quantize: { method: 'sinq', bits: 4, group: 48 } })).rejects.toThrow(/group must be 32, 64 or 128/);
    await expect(openHfLlama(await hfFiles(), { quantize: { method: 'presinq', bits: 3 } })).rejects.toThrow(/'presinq' writes GGUF Q4_0/);
  });

  it('every tensor of the virtual file quantizes like formats.quantize of the permuted F32 values (RTN 4-bit)', async () => {
    const virtual = await openHfLlama(await hfFiles(), { quantize: { method: 'rtn', bits: 4 } });
    const t = virtual.tensors.find((x) => x.name === 'blk.0.attn_k.weight')!;
    const o = gguf.tensors.find((x) => x.name === t.name)!;
    expect(t.typeName).toBe('Q4_0');
    const values = tensorToF32(o.typeName as SupportedTensorType, await readTensorBytes(gguf, o), o.elementCount);
    expect(Buffer.from(await readTensorBytes(virtual, t)).equals(Buffer.from(quantize('Q4_0', values)))).toBe(true);
  });

  it('SINQ on load writes qgpu group codes: q, k, v each get their own t, exactly what quantizeSinq gives each permuted F32 weight', async () => {
    const virtual = await openHfLlama(await hfFiles(), { quantize: { method: 'sinq', bits: 4, group: 64 } });
    expect(virtual.metadata.get(QUANT_KEYS.bits)).toBe(4);
    expect(virtual.tensors.some((t) => t.name === 'blk.0.attn_q.weight')).toBe(false);
    const f32 = async (name: string) => {
      const o = gguf.tensors.find((t) => t.name === name)!;
      return { values: tensorToF32('F32', await readTensorBytes(gguf, o), o.elementCount), rows: o.ne[1]!, cols: o.ne[0]! };
    };
    const qkv = await Promise.all(['attn_q', 'attn_k', 'attn_v'].map((n) => f32(`blk.2.${n}.weight`)));
    const expected = qkv.map((m) => quantizeSinq(m.values, m.rows, 64, { bits: 4, group: 64 }));
    expect(Array.from(expected[1]!.colScale)).not.toEqual(Array.from(expected[0]!.colScale)); // per-linear t really differ
    for (const [i, n] of ['attn_q', 'attn_k', 'attn_v'].entries()) {
      const { quant, colScale } = await readGroupQuantized(virtual, `blk.2.${n}.weight`, qkv[i]!.rows, 64);
      expect(Array.from(quant.codes)).toEqual(Array.from(expected[i]!.quant.codes));
      expect(Array.from(quant.scales)).toEqual(Array.from(expected[i]!.quant.scales));
      expect(Array.from(quant.zeros)).toEqual(Array.from(expected[i]!.quant.zeros));
      expect(Array.from(colScale!)).toEqual(Array.from(expected[i]!.colScale));
      // And the codes approximate the original weights: relative RMS error of s·(q − z)·t at 4 bits.
      const back = dequantizeGroups(quant, colScale);
      let num = 0, den = 0;
      qkv[i]!.values.forEach((v, j) => { num += (back[j]! - v) ** 2; den += v * v; });
      expect(Math.sqrt(num / den)).toBeLessThan(0.15);
    }
    // ffn_down (width 172) is not whole groups of 64: it stays F32; RTN at group 128 skips the 64-wide linears too.
    expect(virtual.tensors.find((t) => t.name === 'blk.0.ffn_down.weight')?.typeName).toBe('F32');
    const rtn128 = await openHfLlama(await hfFiles(), { quantize: { method: 'rtn', bits: 3, group: 128 } });
    expect(rtn128.tensors.some((t) => t.name.endsWith(QUANT_SUFFIXES.codes))).toBe(false);
    const rtn64 = await openHfLlama(await hfFiles(), { quantize: { method: 'rtn', bits: 3, group: 64 } });
    const up = await f32('blk.1.ffn_up.weight');
    const { quant, colScale } = await readGroupQuantized(rtn64, 'blk.1.ffn_up.weight', up.rows, up.cols);
    expect(colScale).toBeUndefined();
    expect(Array.from(quant.codes)).toEqual(Array.from(quantizeRtn(up.values, up.rows, up.cols, { bits: 3, group: 64 }).codes));
  });
});
