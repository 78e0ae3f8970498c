// @qgpu/tokenizer: pure-TypeScript tokenizers for GGUF models. Currently the SentencePiece ("llama") model,
// matching llama.cpp's tokenization ids and detokenization, with incremental decoding for streamed generation.
export { SpmTokenizer, type EncodeOptions } from './tokenizer.ts';
export type { IncrementalDecoder } from './decoder.ts';
export { spmVocabFromGguf, TokenType, type SpmVocab } from './vocab.ts';
export { BpeTokenizer, BYTE_TO_CHAR, compilePattern, GPT2_PATTERN, type AddedToken, type BpeEncodeOptions, type BpeVocab, type PreTokenizerStep } from './bpe.ts';
export { bpeVocabFromTokenizerJson } from './bpe-json.ts';
export { bpeVocabFromGguf, GGUF_BPE_PRE_TOKENIZERS } from './bpe-gguf.ts';
export { tokenizerFromGguf, tokenizerFromJson, type Tokenizer } from './bpe-select.ts';
