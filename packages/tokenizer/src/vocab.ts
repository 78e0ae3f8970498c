// The SentencePiece vocabulary as GGUF stores it, and its construction from a GGUF metadata map. This package does
// not depend on @qgpu/formats: callers parse the file and pass the metadata in, so the tokenizer stays usable in any
// environment (worker, browser, CLI) without pulling the file reader along.

/** GGUF `tokenizer.ggml.token_type` values (llama.cpp's `llama_token_type`). */
export const TokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

/** A SentencePiece ("llama") vocabulary: pieces, their merge scores and types, and the special ids. */
export interface SpmVocab {
  /** Token pieces, '▁' (U+2581) standing for a space; byte tokens are spelled `<0xXX>`. */
  tokens: string[];
  /** One score per token; a higher score merges first. */
  scores: Float32Array | number[];
  /** GGUF tokenizer.ggml.token_type: 1 normal, 2 unknown, 3 control, 4 user_defined, 5 unused, 6 byte. */
  tokenTypes: number[];
  bosId: number;
  eosId: number;
  unkId: number;
  /** tokenizer.ggml.add_bos_token (default true). */
  addBos: boolean;
  /** tokenizer.ggml.add_space_prefix (default true). */
  addSpacePrefix: boolean;
}

/** GGUF writes "no such token" as uint32 max; llama.cpp reads it as LLAMA_TOKEN_NULL (-1). */
const NO_TOKEN = -1;

function fail(message: string): never {
  throw new Error(`spmVocabFromGguf: ${message}`);
}

function toNumber(key: string, value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  return fail(`${key} is not an integer (got ${typeof value})`);
}

/** Reads an optional token id; absent keys take llama.cpp's SPM defaults, out-of-range ids become -1. */
function tokenId(metadata: ReadonlyMap<string, unknown>, key: string, fallback: number, vocabSize: number): number {
  const value = metadata.get(key);
  if (value === undefined) return fallback;
  const id = toNumber(key, value);
  return id >= 0 && id < vocabSize ? id : NO_TOKEN;
}

function optionalBool(metadata: ReadonlyMap<string, unknown>, key: string, fallback: boolean): boolean {
  const value = metadata.get(key);
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(`${key} is not a boolean (got ${typeof value})`);
  return value;
}

function requiredArray(metadata: ReadonlyMap<string, unknown>, key: string): unknown[] {
  const value = metadata.get(key);
  if (value === undefined) fail(`missing key ${key}`);
  if (!Array.isArray(value)) fail(`${key} is not an array`);
  return value;
}

/**
 * Builds an {@link SpmVocab} from GGUF metadata (the map from `@qgpu/formats` `readGguf(...).metadata`).
 *
 * Requires `tokenizer.ggml.model` = "llama", `tokenizer.ggml.tokens`, `tokenizer.ggml.scores` and
 * `tokenizer.ggml.token_type` (same lengths). Special ids default to llama.cpp's SPM defaults (unk 0, bos 1, eos 2);
 * `add_bos_token` and `add_space_prefix` default to true.
 *
 * @throws Error with a one-line message naming the missing or malformed key, or the unsupported model.
 */
export function spmVocabFromGguf(metadata: ReadonlyMap<string, unknown>): SpmVocab {
  const model = metadata.get('tokenizer.ggml.model');
  if (model === undefined) fail('missing key tokenizer.ggml.model');
  if (model !== 'llama') fail(`tokenizer.ggml.model is ${JSON.stringify(model)}, only "llama" (SentencePiece) is supported`);

  const tokens = requiredArray(metadata, 'tokenizer.ggml.tokens');
  const scores = requiredArray(metadata, 'tokenizer.ggml.scores');
  const types = requiredArray(metadata, 'tokenizer.ggml.token_type');
  const n = tokens.length;
  if (n === 0) fail('tokenizer.ggml.tokens is empty');
  if (scores.length !== n) fail(`tokenizer.ggml.scores has ${scores.length} entries, expected ${n}`);
  if (types.length !== n) fail(`tokenizer.ggml.token_type has ${types.length} entries, expected ${n}`);
  if (!tokens.every((t) => typeof t === 'string')) fail('tokenizer.ggml.tokens holds a non-string');
  if (!scores.every((s) => typeof s === 'number')) fail('tokenizer.ggml.scores holds a non-number');

  return {
    tokens: tokens as string[],
    scores: Float32Array.from(scores as number[]),
    tokenTypes: types.map((t) => toNumber('tokenizer.ggml.token_type', t)),
    unkId: tokenId(metadata, 'tokenizer.ggml.unknown_token_id', 0, n),
    bosId: tokenId(metadata, 'tokenizer.ggml.bos_token_id', 1, n),
    eosId: tokenId(metadata, 'tokenizer.ggml.eos_token_id', 2, n),
    addBos: optionalBool(metadata, 'tokenizer.ggml.add_bos_token', true),
    addSpacePrefix: optionalBool(metadata, 'tokenizer.ggml.add_space_prefix', true),
  };
}
