// GGUF `tokenizer.ggml.model = "gpt2"` → BpeVocab. The byte-level tokens and merges are the same strings as in
// tokenizer.json; the pre-tokenizer is not stored, only named by `tokenizer.ggml.pre`, so the names llama.cpp knows
// for the supported families are mapped to their Hugging Face pre_tokenizer here.
import { compilePattern, type AddedToken, type BpeVocab, type PreTokenizerStep } from './bpe.ts';
import { TokenType } from './vocab.ts';

function fail(message: string): never {
  throw new Error(`bpeVocabFromGguf: ${message}`);
}

const LLAMA3_PATTERN = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const QWEN2_PATTERN = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const byteLevel = (useRegex: boolean): PreTokenizerStep => ({ kind: 'byteLevel', addPrefixSpace: false, useRegex });

/** `tokenizer.ggml.pre` → Hugging Face pre-tokenizer of that family (llama.cpp's `llama_vocab_pre_type` names). */
export const GGUF_BPE_PRE_TOKENIZERS: Readonly<Record<string, () => PreTokenizerStep[]>> = {
  'gpt-2': () => [byteLevel(true)],
  default: () => [byteLevel(true)],
  smollm: () => [{ kind: 'digits', individual: true }, byteLevel(true)],
  'llama-bpe': () => [{ kind: 'split', pattern: compilePattern(LLAMA3_PATTERN), behavior: 'isolated' }, byteLevel(false)],
  qwen2: () => [{ kind: 'split', pattern: compilePattern(QWEN2_PATTERN), behavior: 'isolated' }, byteLevel(false)],
};

function stringArray(metadata: ReadonlyMap<string, unknown>, key: string): string[] {
  const v = metadata.get(key);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) fail(`${key} is missing or not an array of strings`);
  return v as string[];
}

function optionalId(metadata: ReadonlyMap<string, unknown>, key: string, n: number): number {
  const v = metadata.get(key);
  const id = typeof v === 'bigint' ? Number(v) : v;
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < n ? id : -1;
}

/**
 * Builds a byte-level BPE vocabulary from GGUF metadata. Control tokens (type 3) become special added tokens and
 * user-defined tokens (type 4) ordinary added tokens, both matched in the text before BPE. BOS is prepended only
 * when `tokenizer.ggml.add_bos_token` says so (BPE models mostly do not use one).
 */
export function bpeVocabFromGguf(metadata: ReadonlyMap<string, unknown>): BpeVocab {
  const model = metadata.get('tokenizer.ggml.model');
  if (model !== 'gpt2') fail(`tokenizer.ggml.model is ${JSON.stringify(model)}, expected "gpt2"`);
  const tokens = stringArray(metadata, 'tokenizer.ggml.tokens');
  const n = tokens.length;
  const types = metadata.get('tokenizer.ggml.token_type');
  if (!Array.isArray(types) || types.length !== n) fail(`tokenizer.ggml.token_type must have ${n} entries`);
  const merges = stringArray(metadata, 'tokenizer.ggml.merges').map((m, i): [string, string] => {
    const at = m.indexOf(' ', 1);
    if (at < 0) fail(`merge ${i} ${JSON.stringify(m)} has no space`);
    return [m.slice(0, at), m.slice(at + 1)];
  });
  const pre = metadata.get('tokenizer.ggml.pre') ?? 'default';
  const preTokenizer = GGUF_BPE_PRE_TOKENIZERS[String(pre)];
  if (!preTokenizer) fail(`tokenizer.ggml.pre ${JSON.stringify(pre)} is not supported (${Object.keys(GGUF_BPE_PRE_TOKENIZERS).join(', ')})`);
  const addedTokens: AddedToken[] = [];
  (types as unknown[]).forEach((t, id) => {
    if (t === TokenType.CONTROL || t === TokenType.USER_DEFINED) addedTokens.push({ id, content: tokens[id]!, special: t === TokenType.CONTROL });
  });
  const addBos = metadata.get('tokenizer.ggml.add_bos_token');
  return {
    tokens, merges, addedTokens,
    preTokenizer: preTokenizer(),
    normalizer: 'none',
    ignoreMerges: pre === 'llama-bpe',
    bosId: optionalId(metadata, 'tokenizer.ggml.bos_token_id', n),
    eosId: optionalId(metadata, 'tokenizer.ggml.eos_token_id', n),
    addBos: addBos === true,
  };
}
