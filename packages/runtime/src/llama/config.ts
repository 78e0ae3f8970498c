import { FormatError, metaNumber, metaString, type GgufFile } from '@qgpu/formats';

/** Hyperparameters of a Llama-family model, all from file metadata; nothing is assumed about one model. */
export interface LlamaConfig {
  readonly architecture: string;
  readonly name: string;
  readonly dim: number;
  readonly hiddenDim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  /** n_heads · head_dim: the width of q and of the attention output. */
  readonly qDim: number;
  /** n_kv_heads · head_dim: the width of k, v and of one KV-cache row. */
  readonly kvDim: number;
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly ropeDim: number;
  readonly ropeFreqBase: number;
  readonly normEps: number;
}

/** Architectures whose GGUF tensors and RoPE follow llama.cpp's `llama` layout. */
const SUPPORTED_ARCHITECTURES = ['llama'];

export function llamaConfigFromGguf(file: GgufFile): LlamaConfig {
  const name = file.source.name;
  const arch = metaString(file, 'general.architecture');
  if (!SUPPORTED_ARCHITECTURES.includes(arch)) {
    throw new FormatError(`${name}: unsupported architecture '${arch}' (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`);
  }
  const key = (k: string) => `${arch}.${k}`;
  const dim = metaNumber(file, key('embedding_length'));
  const nHeads = metaNumber(file, key('attention.head_count'));
  const nKvHeads = metaNumber(file, key('attention.head_count_kv'), nHeads);
  const headDim = metaNumber(file, key('attention.key_length'), dim / nHeads);
  const embedding = file.tensors.find((t) => t.name === 'token_embd.weight');
  if (!embedding) throw new FormatError(`${name}: missing tensor 'token_embd.weight'`);
  const config: LlamaConfig = {
    architecture: arch,
    name: metaString(file, 'general.name', arch),
    dim,
    hiddenDim: metaNumber(file, key('feed_forward_length')),
    nLayers: metaNumber(file, key('block_count')),
    nHeads,
    nKvHeads,
    headDim,
    qDim: nHeads * headDim,
    kvDim: nKvHeads * headDim,
    vocabSize: embedding.ne[1] ?? 0,
    contextLength: metaNumber(file, key('context_length')),
    ropeDim: metaNumber(file, key('rope.dimension_count'), headDim),
    ropeFreqBase: metaNumber(file, key('rope.freq_base'), 10000),
    normEps: metaNumber(file, key('attention.layer_norm_rms_epsilon'), 1e-5),
  };
  const positive = ['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'vocabSize', 'contextLength', 'ropeDim'] as const;
  for (const field of positive) {
    const v = config[field];
    if (!Number.isInteger(v) || v <= 0) throw new FormatError(`${name}: invalid ${field} ${v}`);
  }
  if (nHeads % nKvHeads !== 0) throw new FormatError(`${name}: head_count ${nHeads} is not a multiple of head_count_kv ${nKvHeads}`);
  if (config.ropeDim % 2 !== 0 || config.ropeDim > headDim) throw new FormatError(`${name}: invalid rope.dimension_count ${config.ropeDim}`);
  return config;
}
