// One tokenizer type for the engine, whichever model the file carries: SentencePiece ("llama") or byte-level BPE
// ("gpt2") from GGUF metadata, or byte-level BPE from a Hugging Face tokenizer.json.
import { BpeTokenizer } from './bpe.ts';
import { bpeVocabFromGguf } from './bpe-gguf.ts';
import { bpeVocabFromTokenizerJson } from './bpe-json.ts';
import type { IncrementalDecoder } from './decoder.ts';
import { SpmTokenizer } from './tokenizer.ts';
import { spmVocabFromGguf } from './vocab.ts';

/** What the engine needs from a tokenizer; both SpmTokenizer and BpeTokenizer implement it. */
export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly addBos: boolean;
  encode(text: string, options?: { addBos?: boolean }): number[];
  decode(ids: readonly number[]): string;
  createDecoder(): IncrementalDecoder;
  tokenBytes(id: number): Uint8Array;
}

/**
 * Chooses the tokenizer by GGUF `tokenizer.ggml.model`: "llama" → SentencePiece, "gpt2" → byte-level BPE. A "gpt2"
 * file carrying the GGUF-spec key `tokenizer.huggingface.json` (the model's whole tokenizer.json, as qgpu's
 * safetensors loader sets it) is built from that JSON, whose pre-tokenizer is exact; `tokenizer.ggml.bos_token_id`,
 * `eos_token_id` and `add_bos_token` still override it.
 */
export function tokenizerFromGguf(metadata: ReadonlyMap<string, unknown>): Tokenizer {
  const model = metadata.get('tokenizer.ggml.model');
  if (model !== 'gpt2') return new SpmTokenizer(spmVocabFromGguf(metadata));
  const json = metadata.get('tokenizer.huggingface.json');
  if (typeof json !== 'string') return new BpeTokenizer(bpeVocabFromGguf(metadata));
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new Error(`tokenizer.huggingface.json is not valid JSON (${(error as Error).message})`);
  }
  const vocab = bpeVocabFromTokenizerJson(parsed);
  const id = (key: string, fallback: number) => {
    const v = metadata.get(key);
    return typeof v === 'number' && Number.isInteger(v) ? v : fallback;
  };
  const addBos = metadata.get('tokenizer.ggml.add_bos_token');
  return new BpeTokenizer({
    ...vocab,
    bosId: id('tokenizer.ggml.bos_token_id', vocab.bosId),
    eosId: id('tokenizer.ggml.eos_token_id', vocab.eosId),
    addBos: typeof addBos === 'boolean' ? addBos : vocab.addBos,
  });
}

/** A byte-level BPE tokenizer from a parsed tokenizer.json (see {@link bpeVocabFromTokenizerJson} for options). */
export function tokenizerFromJson(json: unknown, options: { eosToken?: string; bosToken?: string } = {}): Tokenizer {
  return new BpeTokenizer(bpeVocabFromTokenizerJson(json, options));
}
