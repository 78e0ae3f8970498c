// @qgpu/tokenizer: pure-TypeScript tokenizers for GGUF models. Currently the SentencePiece ("llama") model,
// matching llama.cpp's tokenization ids and detokenization, with incremental decoding for streamed generation.
export { SpmTokenizer, type EncodeOptions } from './tokenizer.ts';
export type { IncrementalDecoder } from './decoder.ts';
export { spmVocabFromGguf, TokenType, type SpmVocab } from './vocab.ts';
