import { describe, expect, it } from 'vitest';
import { bytesSource, f32ToF16, readGguf, writeGguf, type GgufWriteTensor, type GgufWriteValue } from '@qgpu/formats';
import { loadReferenceModel } from './load.ts';

const f32Tensor = (name: string, ne: number[], values: number[]): GgufWriteTensor =>
  ({ name, ne, typeId: 0, data: new Uint8Array(new Float32Array(values).buffer) });
const f16Tensor = (name: string, ne: number[], values: number[]): GgufWriteTensor =>
  ({ name, ne, typeId: 1, data: new Uint8Array(new Uint16Array(values.map(f32ToF16)).buffer) });
const ramp = (n: number, start = 0) => Array.from({ length: n }, (_, i) => start + i);

/** A one-layer model: dim 4, 2 heads / 1 KV head of size 2, FFN 3, vocab 5; output tied unless `untied`. */
function tinyModel(options: { untied?: boolean; extra?: GgufWriteTensor; drop?: string } = {}): Uint8Array {
  const metadata: Record<string, GgufWriteValue> = {
    'general.architecture': { type: 'string', value: 'llama' },
    'llama.embedding_length': { type: 'u32', value: 4 },
    'llama.feed_forward_length': { type: 'u32', value: 3 },
    'llama.block_count': { type: 'u32', value: 1 },
    'llama.attention.head_count': { type: 'u32', value: 2 },
    'llama.attention.head_count_kv': { type: 'u32', value: 1 },
    'llama.context_length': { type: 'u32', value: 16 },
    'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: 1e-5 },
  };
  const tensors = [
    f32Tensor('token_embd.weight', [4, 5], ramp(20)),
    f32Tensor('output_norm.weight', [4], [1, 1, 1, 1]),
    f32Tensor('blk.0.attn_norm.weight', [4], [1, 2, 3, 4]),
    f32Tensor('blk.0.attn_q.weight', [4, 4], ramp(16)),
    f32Tensor('blk.0.attn_k.weight', [4, 2], ramp(8)),
    f32Tensor('blk.0.attn_v.weight', [4, 2], ramp(8, 100)),
    f32Tensor('blk.0.attn_output.weight', [4, 4], ramp(16)),
    f32Tensor('blk.0.ffn_norm.weight', [4], [1, 1, 1, 1]),
    f32Tensor('blk.0.ffn_gate.weight', [4, 3], ramp(12)),
    f32Tensor('blk.0.ffn_up.weight', [4, 3], ramp(12)),
    f16Tensor('blk.0.ffn_down.weight', [3, 4], [0.5, -1.5, 2, 0.25, 0, 1, 2, 3, 4, 5, 6, 7]),
  ];
  if (options.untied) tensors.push(f32Tensor('output.weight', [4, 5], ramp(20, -10)));
  const kept = tensors.filter((t) => t.name !== options.drop);
  return writeGguf(metadata, options.extra ? [...kept, options.extra] : kept);
}

const load = async (bytes: Uint8Array) => loadReferenceModel(await readGguf(bytesSource(bytes, 'tiny.gguf')));

describe('loadReferenceModel', () => {
  it('reads config with defaults (headDim, ropeDim, freq base) and vocab from token_embd', async () => {
    const { config } = await load(tinyModel());
    expect(config).toEqual({
      dim: 4, hiddenDim: 3, nLayers: 1, nHeads: 2, nKvHeads: 1, headDim: 2, vocabSize: 5, contextLength: 16,
      ropeDim: 2, ropeFreqBase: 10000, normEps: Math.fround(1e-5),
    });
  });

  it('keeps GGUF row-major layout: ne = [cols, rows] is [rows, cols]; F16 decodes exactly', async () => {
    const { weights } = await load(tinyModel());
    const layer = weights.layers[0]!;
    expect(layer.wk.length).toBe(8); // [kvDim 2, dim 4]: row 1 is elements 4..7
    expect(Array.from(layer.wk.subarray(4, 8))).toEqual([4, 5, 6, 7]);
    expect(Array.from(layer.wDown.subarray(0, 3))).toEqual([0.5, -1.5, 2]); // [dim 4, hidden 3]: row 0
  });

  it('ties output to the token embedding when output.weight is absent, and loads it when present', async () => {
    const tied = await load(tinyModel());
    expect(tied.weights.output).toBe(tied.weights.tokenEmbedding);
    const untied = await load(tinyModel({ untied: true }));
    expect(untied.weights.output[0]).toBe(-10);
  });

  it('rejects missing tensors, wrong shapes and tensors the forward would ignore', async () => {
    await expect(load(tinyModel({ drop: 'blk.0.ffn_up.weight' }))).rejects.toThrow(/missing tensor 'blk.0.ffn_up.weight'/);
    await expect(load(tinyModel({ drop: 'blk.0.attn_k.weight', extra: f32Tensor('blk.0.attn_k.weight', [2, 4], ramp(8)) })))
      .rejects.toThrow(/attn_k.weight' has shape \[2, 4\], expected \[4, 2\]/);
    await expect(load(tinyModel({ extra: f32Tensor('blk.0.attn_q.bias', [4], ramp(4)) }))).rejects.toThrow(/not used.*attn_q.bias/);
  });
});
