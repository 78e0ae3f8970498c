import { FormatError, metaNumber, metaString, printable, type GgufFile } from '@qgpu/formats';
import { ropeConfigFromGguf, type RopeConfig } from './rope.ts';

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
  /** The full rotation (pair style from the architecture, rope.dimension_count, freq_base, rope.scaling.*). */
  readonly rope: RopeConfig;
  readonly normEps: number;
}

/** Largest context_length accepted from a file (2^24 tokens). */
export const MAX_CONTEXT_LENGTH = 1 << 24;

/** Architectures whose GGUF tensors and RoPE follow llama.cpp's `llama` layout. */
const SUPPORTED_ARCHITECTURES = ['llama'];

export function llamaConfigFromGguf(file: GgufFile): LlamaConfig {
  const name = file.source.name;
  const arch = metaString(file, 'general.architecture');
  if (!SUPPORTED_ARCHITECTURES.includes(arch)) {
    throw new FormatError(`${name}: unsupported architecture ${printable(arch)} (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`, 'unsupported');
  }
  const key = (k: string) => `${arch}.${k}`;
  const dim = metaNumber(file, key('embedding_length'));
  const nHeads = metaNumber(file, key('attention.head_count'));
  const nKvHeads = metaNumber(file, key('attention.head_count_kv'), nHeads);
  if (!file.metadata.has(key('attention.key_length')) && Number.isInteger(dim) && Number.isInteger(nHeads) && nHeads > 0 && dim % nHeads !== 0) {
    throw new FormatError(`${name}: ${key('embedding_length')} ${dim} is not divisible by ${key('attention.head_count')} ${nHeads}`, 'bad_metadata');
  }
  const headDim = metaNumber(file, key('attention.key_length'), dim / nHeads);
  const embedding = file.tensors.find((t) => t.name === 'token_embd.weight');
  if (!embedding) throw new FormatError(`${name}: missing tensor 'token_embd.weight'`, 'missing');
  const config: Omit<LlamaConfig, 'rope'> = {
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
  // Each field with the metadata key it comes from, so the message names what to fix in the file.
  const positive = {
    dim: 'embedding_length', hiddenDim: 'feed_forward_length', nLayers: 'block_count', nHeads: 'attention.head_count',
    nKvHeads: 'attention.head_count_kv', headDim: 'attention.key_length', vocabSize: 'rows of token_embd.weight',
    contextLength: 'context_length', ropeDim: 'rope.dimension_count',
  } as const;
  for (const [field, source] of Object.entries(positive) as [keyof typeof positive, string][]) {
    const v = config[field];
    const where = field === 'vocabSize' ? source : key(source);
    if (!Number.isSafeInteger(v) || v <= 0) throw new FormatError(`${name}: ${where} must be a positive integer, got ${v}`, 'bad_metadata');
  }
  // No model is trained on more than a few million positions; the bound keeps a hostile value from sizing the RoPE table.
  if (config.contextLength > MAX_CONTEXT_LENGTH) {
    throw new FormatError(`${name}: ${key('context_length')} ${config.contextLength} is larger than qgpu's limit of ${MAX_CONTEXT_LENGTH}`, 'bad_metadata');
  }
  if (nHeads % nKvHeads !== 0) throw new FormatError(`${name}: head_count ${nHeads} is not a multiple of head_count_kv ${nKvHeads}`, 'bad_metadata');
  if (config.ropeDim % 2 !== 0 || config.ropeDim > headDim) throw new FormatError(`${name}: invalid rope.dimension_count ${config.ropeDim}`, 'bad_metadata');
  if (!(config.ropeFreqBase > 0) || !Number.isFinite(config.ropeFreqBase)) {
    throw new FormatError(`${name}: ${key('rope.freq_base')} must be a positive number, got ${config.ropeFreqBase}`, 'bad_metadata');
  }
  if (!(config.normEps > 0 && config.normEps < 1)) {
    throw new FormatError(`${name}: ${key('attention.layer_norm_rms_epsilon')} must be in (0, 1), got ${config.normEps}`, 'bad_metadata');
  }
  return { ...config, rope: ropeConfigFromGguf(file, arch, headDim, config.contextLength) };
}
