// GGUF Llama → Hugging Face checkpoint (config.json + model.safetensors), the inverse of hf.ts: GGUF names back to
// HF names, q/k rows back to rotate_half order, GGUF dims reversed to PyTorch shapes. Used to build test models
// from the GGUF fixtures (a converted model must generate exactly what the GGUF does) and by `qgpu` tooling.
import {
  f32ArrayToBf16, f32ToF16, readTensorBytes, tensorToF32, writeSafetensors,
  type GgufFile, type SafetensorsDtype, type SafetensorsTensorInput, type SupportedTensorType,
} from '@qgpu/formats';
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

/** Converts a Llama GGUF (any loadable tensor type; quantized tensors are dequantized) to an HF checkpoint. */
export async function hfCheckpointFromGguf(file: GgufFile, dtype: Extract<SafetensorsDtype, 'F32' | 'F16' | 'BF16'> = 'F32'): Promise<HfCheckpoint> {
  const c = llamaConfigFromGguf(file);
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const pairs: [gguf: string, hf: string][] = [[GGUF_NAMES.tokenEmbedding, 'model.embed_tokens.weight']];
  for (let i = 0; i < c.nLayers; i++) {
    const g = GGUF_NAMES.layer(i);
    for (const role of Object.keys(HF_LAYER_NAMES) as (keyof typeof HF_LAYER_NAMES)[]) pairs.push([g[role], `model.layers.${i}.${HF_LAYER_NAMES[role]}`]);
  }
  pairs.push([GGUF_NAMES.outputNorm, 'model.norm.weight']);
  const tied = !byName.has(GGUF_NAMES.output);
  if (!tied) pairs.push([GGUF_NAMES.output, 'lm_head.weight']);

  const tensors: SafetensorsTensorInput[] = [];
  for (const [gguf, hf] of pairs) {
    const info = byName.get(gguf);
    if (!info) throw new Error(`${file.source.name}: missing tensor '${gguf}'`);
    let values = Float32Array.from(tensorToF32(info.typeName as SupportedTensorType, await readTensorBytes(file, info), info.elementCount));
    const heads = gguf.endsWith('.attn_q.weight') ? c.nHeads : gguf.endsWith('.attn_k.weight') ? c.nKvHeads : undefined;
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
  return { config, safetensors: writeSafetensors(tensors, { format: 'pt' }) };
}
