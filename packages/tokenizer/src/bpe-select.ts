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

/** Chooses the tokenizer by GGUF `tokenizer.ggml.model`: "llama" → SentencePiece, "gpt2" → byte-level BPE. */
export function tokenizerFromGguf(metadata: ReadonlyMap<string, unknown>): Tokenizer {
  const model = metadata.get('tokenizer.ggml.model');
  if (model === 'gpt2') return new BpeTokenizer(bpeVocabFromGguf(metadata));
  return new SpmTokenizer(spmVocabFromGguf(metadata));
}

/** A byte-level BPE tokenizer from a parsed tokenizer.json (see {@link bpeVocabFromTokenizerJson} for options). */
export function tokenizerFromJson(json: unknown, options: { eosToken?: string; bosToken?: string } = {}): Tokenizer {
  return new BpeTokenizer(bpeVocabFromTokenizerJson(json, options));
}
