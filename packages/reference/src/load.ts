// Builds a LlamaConfig and float32 LlamaWeights from a parsed GGUF file. Quantized tensors (Q8_0, Q4_0, Q4_1,
// Q5_0, Q5_1, Q4_K, Q6_K) are dequantized exactly as ggml does, so the reference forward runs on the quantized
// weights themselves (activations stay f32, unlike llama.cpp's CPU matmuls, which quantize them to 8 bits).
import {
  assertSupportedType, FormatError, metaNumber, metaString, readTensorBytes, tensorToF32, type GgufFile,
} from '@qgpu/formats';
import type { LlamaConfig, LlamaLayerWeights, LlamaWeights } from './llama.ts';

const LAYER_TENSORS = {
  attnNorm: 'attn_norm', wq: 'attn_q', wk: 'attn_k', wv: 'attn_v', wo: 'attn_output',
  ffnNorm: 'ffn_norm', wGate: 'ffn_gate', wUp: 'ffn_up', wDown: 'ffn_down',
} as const satisfies Record<keyof LlamaLayerWeights, string>;

/**
 * Reads the hyperparameters and every weight of a Llama GGUF file, decoded to float32 (quantized tensors through
 * `tensorToF32` → `dequantize`, bit-identical to ggml's dequantization).
 * GGUF lists dims innermost first, so a tensor with `ne = [cols, rows]` is a row-major [rows, cols] matrix, which is
 * exactly the [out_features, in_features] layout `matmul` expects; no transpose is needed. When `output.weight` is
 * absent the model ties it to the token embedding and `weights.output` is the same array.
 * Throws a FormatError for missing tensors, wrong shapes, unsupported types, and tensors this forward would ignore
 * (e.g. attention biases or `rope_freqs`), since ignoring them would silently compute a different model.
 */
export async function loadReferenceModel(file: GgufFile): Promise<{ config: LlamaConfig; weights: LlamaWeights }> {
  const fileName = file.source.name;
  const arch = metaString(file, 'general.architecture');
  const key = (suffix: string) => `${arch}.${suffix}`;
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const embedding = byName.get('token_embd.weight');
  if (!embedding) throw new FormatError(`${fileName}: missing tensor 'token_embd.weight'`);

  const dim = metaNumber(file, key('embedding_length'));
  const nHeads = metaNumber(file, key('attention.head_count'));
  const headDim = metaNumber(file, key('attention.key_length'), dim / nHeads);
  const config: LlamaConfig = {
    dim,
    hiddenDim: metaNumber(file, key('feed_forward_length')),
    nLayers: metaNumber(file, key('block_count')),
    nHeads,
    nKvHeads: metaNumber(file, key('attention.head_count_kv'), nHeads),
    headDim,
    vocabSize: embedding.ne[1] ?? 1,
    contextLength: metaNumber(file, key('context_length')),
    ropeDim: metaNumber(file, key('rope.dimension_count'), headDim),
    ropeFreqBase: metaNumber(file, key('rope.freq_base'), 10000),
    normEps: metaNumber(file, key('attention.layer_norm_rms_epsilon')),
  };
  if (!Number.isInteger(headDim) || config.nHeads % config.nKvHeads !== 0) {
    throw new FormatError(`${fileName}: inconsistent attention shape (dim ${dim}, ${nHeads} heads, ${config.nKvHeads} KV heads)`);
  }

  const used = new Set<string>();
  /** Loads a tensor after checking its GGUF dims `ne` (innermost first). */
  const load = async (name: string, ne: readonly number[]): Promise<Float32Array> => {
    const info = byName.get(name);
    if (!info) throw new FormatError(`${fileName}: missing tensor '${name}'`);
    if (info.ne.length !== ne.length || info.ne.some((d, i) => d !== ne[i])) {
      throw new FormatError(`${fileName}: tensor '${name}' has shape [${info.ne.join(', ')}], expected [${ne.join(', ')}]`);
    }
    used.add(name);
    return tensorToF32(assertSupportedType(info, fileName), await readTensorBytes(file, info), info.elementCount);
  };

  const qDim = config.nHeads * headDim;
  const kvDim = config.nKvHeads * headDim;
  const layerShapes: Record<keyof LlamaLayerWeights, readonly number[]> = {
    attnNorm: [dim], wq: [dim, qDim], wk: [dim, kvDim], wv: [dim, kvDim], wo: [qDim, dim],
    ffnNorm: [dim], wGate: [dim, config.hiddenDim], wUp: [dim, config.hiddenDim], wDown: [config.hiddenDim, dim],
  };
  const layers: LlamaLayerWeights[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    const entries = await Promise.all(
      (Object.keys(LAYER_TENSORS) as (keyof LlamaLayerWeights)[]).map(
        async (field) => [field, await load(`blk.${l}.${LAYER_TENSORS[field]}.weight`, layerShapes[field])] as const,
      ),
    );
    layers.push(Object.fromEntries(entries) as unknown as LlamaLayerWeights);
  }

  const tokenEmbedding = await load('token_embd.weight', [dim, config.vocabSize]);
  const outputNorm = await load('output_norm.weight', [dim]);
  const output = byName.has('output.weight') ? await load('output.weight', [dim, config.vocabSize]) : tokenEmbedding;

  const ignored = file.tensors.filter((t) => !used.has(t.name)).map((t) => t.name);
  if (ignored.length > 0) {
    throw new FormatError(`${fileName}: tensors not used by the Llama reference forward: ${ignored.slice(0, 5).join(', ')}${ignored.length > 5 ? ', …' : ''}`);
  }
  return { config, weights: { tokenEmbedding, layers, outputNorm, output } };
}
