// GGUF Llama → Hugging Face checkpoint (config.json + model.safetensors), the inverse of hf.ts: GGUF names back to
// HF names, q/k rows back to rotate_half order, GGUF dims reversed to PyTorch shapes. Used to build test models
// from the GGUF fixtures (a converted model must generate exactly what the GGUF does) and by `qgpu` tooling.
import {
  f32ArrayToBf16, f32ToF16, mulberry32, QUANT_KEYS, QUANT_SUFFIXES, readTensorBytes, tensorToF32, writeSafetensors,
  type GgufFile, type SafetensorsDtype, type SafetensorsTensorInput, type SupportedTensorType,
} from '@qgpu/formats';
import { baseOf, groupTensorInfos, hasGroupQuantization } from '@qgpu/quant';
import { llamaConfigFromGguf } from './config.ts';
import { permuteGgufToHf } from './hf.ts';
import { GGUF_NAMES } from './names.ts';

const HF_LAYER_NAMES = {
  attnNorm: 'input_layernorm.weight', wq: 'self_attn.q_proj.weight', wk: 'self_attn.k_proj.weight', wv: 'self_attn.v_proj.weight',
  wo: 'self_attn.o_proj.weight', ffnNorm: 'post_attention_layernorm.weight', wGate: 'mlp.gate_proj.weight', wUp: 'mlp.up_proj.weight',
  wDown: 'mlp.down_proj.weight',
} as const;

export interface HfCheckpoint {
  /** The parsed config.json. */
  readonly config: Record<string, unknown>;
  readonly safetensors: Uint8Array;
}

/**
 * Converts a Llama GGUF (any loadable tensor type; quantized tensors are dequantized) to an HF checkpoint. Matrices
 * stored as qgpu group codes (gguf-layout.ts) stay coded: `<hf base>.qweight/.scales/.zeros/.col_scale` with the
 * `qgpu.quant.*` keys in `__metadata__` (the safetensors convention of docs/formats.md), q/k rows of every part
 * permuted to HF order like the plain matrices (rows are independent in group quantization, so this is exact).
 */
export async function hfCheckpointFromGguf(file: GgufFile, dtype: Extract<SafetensorsDtype, 'F32' | 'F16' | 'BF16'> = 'F32'): Promise<HfCheckpoint> {
  const c = llamaConfigFromGguf(file);
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const pairs: [gguf: string, hf: string][] = [[GGUF_NAMES.tokenEmbedding, 'model.embed_tokens.weight']];
  for (let i = 0; i < c.nLayers; i++) {
    const g = GGUF_NAMES.layer(i);
    for (const role of Object.keys(HF_LAYER_NAMES) as (keyof typeof HF_LAYER_NAMES)[]) pairs.push([g[role], `model.layers.${i}.${HF_LAYER_NAMES[role]}`]);
  }
  pairs.push([GGUF_NAMES.outputNorm, 'model.norm.weight']);
  const coded = hasGroupQuantization(file);
  // A group-coded output matrix has no `output.weight` but its `output.qweight`: it is not tied to the embedding.
  const tied = !byName.has(GGUF_NAMES.output) && !(coded && groupTensorInfos(file, GGUF_NAMES.output).codes);
  if (!tied) pairs.push([GGUF_NAMES.output, 'lm_head.weight']);

  const tensors: SafetensorsTensorInput[] = [];
  for (const [gguf, hf] of pairs) {
    const info = byName.get(gguf);
    const heads = gguf.endsWith('.attn_q.weight') ? c.nHeads : gguf.endsWith('.attn_k.weight') ? c.nKvHeads : undefined;
    const parts = !info && coded ? groupTensorInfos(file, gguf) : {};
    if (!info && parts.codes) {
      for (const [suffix, part] of [[QUANT_SUFFIXES.codes, parts.codes], [QUANT_SUFFIXES.scales, parts.scales], [QUANT_SUFFIXES.zeros, parts.zeros], [QUANT_SUFFIXES.colScale, parts.colScale]] as const) {
        if (!part) continue;
        let data = await readTensorBytes(file, part);
        // col_scale is per input column: the row permutation does not touch it.
        const rowBytes = part.ne.length === 2 ? part.byteLength / part.ne[1]! : undefined;
        if (heads !== undefined && rowBytes !== undefined) data = permuteGgufToHf(data, heads, rowBytes);
        tensors.push({ name: baseOf(hf) + suffix, dtype: part.typeName === 'I8' ? 'U8' : 'F32', shape: [...part.ne].reverse(), data });
      }
      continue;
    }
    if (!info) throw new Error(`${file.source.name}: missing tensor '${gguf}'`);
    let values = Float32Array.from(tensorToF32(info.typeName as SupportedTensorType, await readTensorBytes(file, info), info.elementCount));
    if (heads !== undefined) values = new Float32Array(permuteGgufToHf(new Uint8Array(values.buffer), heads, info.ne[0]! * 4).buffer);
    const data = dtype === 'F32' ? values : dtype === 'BF16' ? f32ArrayToBf16(values) : Uint16Array.from(values, f32ToF16);
    tensors.push({ name: hf, dtype, shape: [...info.ne].reverse(), data });
  }
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.dim,
    intermediate_size: c.hiddenDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: c.headDim,
    max_position_embeddings: c.contextLength,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeFreqBase,
    rope_scaling: null,
    vocab_size: c.vocabSize,
    tie_word_embeddings: tied,
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype],
    _name_or_path: c.name,
  };
  const quant: Record<string, string> = {};
  if (coded) for (const key of Object.values(QUANT_KEYS)) if (file.metadata.has(key)) quant[key] = String(file.metadata.get(key));
  return { config, safetensors: writeSafetensors(tensors, { format: 'pt', ...quant }) };
}

/** Shape of a random test model (HF config names). */
export interface RandomHfLlamaShape {
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly tied: boolean;
}

/**
 * A seeded random-weight Llama checkpoint in HF layout (BF16, as most HF checkpoints ship), for exercising the
 * safetensors path with a real tokenizer's vocabulary size. Weights ~ U(−1, 1)/√fan_in, norms 1.
 */
export function randomHfLlama(shape: RandomHfLlamaShape, seed: number): HfCheckpoint {
  const random = mulberry32(seed);
  const tensors: SafetensorsTensorInput[] = [];
  const headDim = shape.hiddenSize / shape.heads;
  const matrix = (name: string, rows: number, cols: number) => {
    const values = Float32Array.from({ length: rows * cols }, () => (random() * 2 - 1) / Math.sqrt(cols));
    tensors.push({ name, dtype: 'BF16', shape: [rows, cols], data: f32ArrayToBf16(values) });
  };
  const norm = (name: string) => tensors.push({ name, dtype: 'BF16', shape: [shape.hiddenSize], data: f32ArrayToBf16(new Float32Array(shape.hiddenSize).fill(1)) });
  matrix('model.embed_tokens.weight', shape.vocabSize, shape.hiddenSize);
  for (let i = 0; i < shape.layers; i++) {
    const p = `model.layers.${i}.`;
    norm(`${p}${HF_LAYER_NAMES.attnNorm}`);
    matrix(`${p}${HF_LAYER_NAMES.wq}`, shape.heads * headDim, shape.hiddenSize);
    matrix(`${p}${HF_LAYER_NAMES.wk}`, shape.kvHeads * headDim, shape.hiddenSize);
    matrix(`${p}${HF_LAYER_NAMES.wv}`, shape.kvHeads * headDim, shape.hiddenSize);
    matrix(`${p}${HF_LAYER_NAMES.wo}`, shape.hiddenSize, shape.heads * headDim);
    norm(`${p}${HF_LAYER_NAMES.ffnNorm}`);
    matrix(`${p}${HF_LAYER_NAMES.wGate}`, shape.intermediateSize, shape.hiddenSize);
    matrix(`${p}${HF_LAYER_NAMES.wUp}`, shape.intermediateSize, shape.hiddenSize);
    matrix(`${p}${HF_LAYER_NAMES.wDown}`, shape.hiddenSize, shape.intermediateSize);
  }
  norm('model.norm.weight');
  if (!shape.tied) matrix('lm_head.weight', shape.vocabSize, shape.hiddenSize);
  const config = {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: shape.hiddenSize, intermediate_size: shape.intermediateSize,
    num_hidden_layers: shape.layers, num_attention_heads: shape.heads, num_key_value_heads: shape.kvHeads,
    max_position_embeddings: shape.contextLength, rms_norm_eps: 1e-5, rope_theta: 10000, vocab_size: shape.vocabSize,
    tie_word_embeddings: shape.tied, torch_dtype: 'bfloat16', _name_or_path: `random-llama-${seed}`,
  };
  return { config, safetensors: writeSafetensors(tensors) };
}
