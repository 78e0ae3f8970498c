// Byte-level BPE against an independent implementation: Hugging Face's tokenizers.js (@huggingface/tokenizers) on
// SmolLM2's real tokenizer.json, over many kinds of text, and GGUF `gpt2` metadata (llama.cpp's GPT-2 vocab file)
// against the same oracle fed a tokenizer.json built from that file's tokens and merges.
import { readFileSync } from 'node:fs';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { bytesSource, mulberry32, readGguf } from '@qgpu/formats';
import { sharedPath } from '@qgpu/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { BpeTokenizer, BYTE_TO_CHAR, compilePattern } from './bpe.ts';
import { bpeVocabFromGguf } from './bpe-gguf.ts';
import { bpeVocabFromTokenizerJson } from './bpe-json.ts';
import { tokenizerFromGguf } from './bpe-select.ts';
import { SpmTokenizer } from './tokenizer.ts';

const TEXTS: readonly string[] = [
  '', ' ', 'Hello world', 'Hello World!', ' leading space', 'trailing space ', 'double  space', '   many    spaces   ',
  'tabs\tand\nnewlines\n\n\nand \r\n crlf', "It's we're they've I'm you'll he'd IT'S", 'numbers 1234567 and 3.14159 and 1,000,000',
  'ünïcödé çäfé naïve résumé', 'Ελληνικά Русский текст 中文字符 日本語のテキスト 한국어', 'emoji 😀🎉👍🏽 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵',
  'function f(x) {\n  return x * 2; // comment\n}\n', 'def main():\n    print("hi")\n\tpass', '<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n',
  'special<|endoftext|>inside', '<|endoftext|><|endoftext|>', 'a<|im_start|> b <|im_end|>c', 'Mixed CASE and camelCaseWords and snake_case_words',
  'punctuation!!! ??? ... --- *** ((( )))', 'url https://example.com/path?q=1&b=2#frag', 'email someone@example.org',
  '\u00a0non-breaking\u00a0space \u2003em space \u200bzero width', 'combining e\u0301 vs é', 'math ∑∫√∞ ≠ ≤ ≥', '    indented\n        code',
  'ALLCAPS SHOUTING', "quotes 'single' \"double\" `back`", 'x'.repeat(300), '1'.repeat(40), '\u{10FFFF}\u{1F600}\u{E000}',
];

let smolJson: unknown;
let oracle: HfTokenizer;
let ours: BpeTokenizer;
beforeAll(() => {
  smolJson = JSON.parse(readFileSync(sharedPath('models/tokenizers/smollm2-135m/tokenizer.json'), 'utf8'));
  oracle = new HfTokenizer(smolJson as object, {});
  ours = new BpeTokenizer(bpeVocabFromTokenizerJson(smolJson));
});

describe('byte-level BPE from tokenizer.json (SmolLM2-135M) vs @huggingface/tokenizers', () => {
  it('encodes every test string to the oracle ids', () => {
    for (const text of TEXTS) {
      const expected = oracle.encode(text).ids.map(Number);
      expect({ text, ids: ours.encode(text) }).toEqual({ text, ids: expected });
    }
  });

  it('agrees on pseudo-random strings drawn from a mixed alphabet', () => {
    const alphabet = Array.from('abcXYZ 019  \n\t.,!?\'"-_()éüß中文😀🎉ñ<|>#$%&*/\\');
    const next = mulberry32(12345);
    for (let i = 0; i < 200; i++) {
      const text = Array.from({ length: 1 + Math.floor(next() * 40) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
      expect({ text, ids: ours.encode(text) }).toEqual({ text, ids: oracle.encode(text).ids.map(Number) });
    }
  });

  it('agrees on one very long pre-token (a 20 000-character base64-like blob)', () => {
    const random = mulberry32(99);
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    const text = Array.from({ length: 20000 }, () => chars[Math.floor(random() * chars.length)]).join('');
    expect(ours.encode(text)).toEqual(oracle.encode(text).ids.map(Number));
  });

  it('decodes to the oracle text (special tokens skipped) and round-trips text', () => {
    for (const text of TEXTS) {
      const ids = ours.encode(text);
      // The oracle refuses an empty id list (ours returns ''); its space clean-up is a transformers option, off here.
      expect(ours.decode(ids)).toBe(ids.length === 0 ? '' : oracle.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }));
      if (!text.includes('<|')) expect(ours.decode(ids)).toBe(text);
    }
  });

  it('streams UTF-8 safely: incremental pieces concatenate to decode(), never splitting a character', () => {
    for (const text of TEXTS) {
      const ids = ours.encode(text);
      const decoder = ours.createDecoder();
      const pieces = ids.map((id) => decoder.push(id));
      pieces.push(decoder.flush());
      expect(pieces.join('')).toBe(ours.decode(ids));
      for (const p of pieces) expect(p).not.toMatch(/\uFFFD/);
    }
    // An emoji is 4 bytes split over several byte tokens: nothing is emitted until its last byte arrives.
    const emoji = ours.encode('😀');
    expect(emoji.length).toBeGreaterThan(1);
    const decoder = ours.createDecoder();
    expect(emoji.slice(0, -1).map((id) => decoder.push(id)).join('')).toBe('');
    expect(decoder.push(emoji.at(-1)!)).toBe('😀');
  });

  it('reads the special ids: no BOS template in SmolLM2, EOS <|endoftext|> = 0', () => {
    expect(ours.addBos).toBe(false);
    expect(ours.eosId).toBe(0);
    expect(ours.vocabSize).toBe(49152);
  });
});

describe('tokenizer.json variants', () => {
  // A tiny vocabulary: the 256 byte characters, two merges, and a TemplateProcessing BOS.
  const base = () => ({
    added_tokens: [{ id: 258, content: '<s>', special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: String.raw`(?i:'s|'t)|\p{L}+|\p{N}{1,3}|\s+|[^\s\p{L}\p{N}]+` }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, use_regex: false },
    ] },
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }] },
    decoder: { type: 'ByteLevel' },
    model: {
      type: 'BPE', ignore_merges: false, byte_fallback: false,
      vocab: Object.fromEntries([...BYTE_TO_CHAR.map((c, i) => [c, i] as const), ['ab', 256], ['abc', 257], ['<s>', 258]]),
      merges: [['a', 'b'], ['ab', 'c']],
    },
  });

  it('matches the oracle with a Split regex (case-insensitive group), pair merges and a BOS template', () => {
    const json = base();
    const tok = new BpeTokenizer(bpeVocabFromTokenizerJson(json));
    const hf = new HfTokenizer(json, {});
    expect(tok.addBos).toBe(true);
    for (const text of ["abc ab'S x'T 12345 abcabc", 'ABC', '<s>abc']) {
      expect(tok.encode(text)).toEqual(hf.encode(text).ids.map(Number));
    }
    expect(tok.encode('abc')).toEqual([258, 257]);
  });

  it('ignore_merges emits a whole pre-token found in the vocabulary', () => {
    const json = base();
    // With merges "a b" only, "abc" would be [ab, c]; with ignore_merges it is the vocabulary entry 257.
    json.model.merges = [['a', 'b']];
    expect(new BpeTokenizer(bpeVocabFromTokenizerJson(json)).encode('abc', { addBos: false })).toEqual([256, 99]);
    (json.model as Record<string, unknown>).ignore_merges = true;
    expect(new BpeTokenizer(bpeVocabFromTokenizerJson(json)).encode('abc', { addBos: false })).toEqual([257]);
  });

  it('rejects what it cannot reproduce, naming the component', () => {
    const wordPiece = { ...base(), model: { type: 'WordPiece', vocab: {} } };
    expect(() => bpeVocabFromTokenizerJson(wordPiece)).toThrow(/model type "WordPiece"/);
    expect(() => bpeVocabFromTokenizerJson({ ...base(), pre_tokenizer: { type: 'Metaspace' } })).toThrow(/pre_tokenizer type "Metaspace"/);
    expect(() => bpeVocabFromTokenizerJson({ ...base(), normalizer: { type: 'Lowercase' } })).toThrow(/normalizer type "Lowercase"/);
    expect(() => compilePattern('(unclosed')).toThrow(/cannot compile/);
  });
});

describe('byte-level BPE from GGUF gpt2 metadata (llama.cpp ggml-vocab-gpt-2.gguf)', () => {
  let metadata: ReadonlyMap<string, unknown>;
  beforeAll(async () => {
    metadata = (await readGguf(bytesSource(new Uint8Array(readFileSync(sharedPath('models/llama.cpp-vocab/ggml-vocab-gpt-2.gguf')))))).metadata;
  });

  it('the engine selects BPE for gpt2 and SPM for llama vocabularies', async () => {
    expect(tokenizerFromGguf(metadata)).toBeInstanceOf(BpeTokenizer);
    const spm = await readGguf(bytesSource(new Uint8Array(readFileSync(sharedPath('models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf')))));
    expect(tokenizerFromGguf(spm.metadata)).toBeInstanceOf(SpmTokenizer);
  });

  it('encodes like the oracle built from the same tokens and merges', () => {
    const tokens = metadata.get('tokenizer.ggml.tokens') as string[];
    const merges = metadata.get('tokenizer.ggml.merges') as string[];
    const json = {
      added_tokens: [{ id: 50256, content: '<|endoftext|>', special: true }],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
      post_processor: null,
      decoder: { type: 'ByteLevel' },
      model: { type: 'BPE', byte_fallback: false, vocab: Object.fromEntries(tokens.map((t, i) => [t, i])), merges },
    };
    const hf = new HfTokenizer(json, {});
    const tok = new BpeTokenizer(bpeVocabFromGguf(metadata));
    expect(tok.addBos).toBe(false);
    expect([tok.bosId, tok.eosId]).toEqual([50256, 50256]);
    for (const text of TEXTS) expect({ text, ids: tok.encode(text) }).toEqual({ text, ids: hf.encode(text).ids.map(Number) });
    // Hand-checked against GPT-2's well-known ids: "Hello" 15496, " world" 995.
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
  });
});

describe('GGUF tokenizer.ggml.pre names map to the right Hugging Face pre-tokenizers', () => {
  /** GGUF gpt2 metadata carrying SmolLM2's vocabulary, merges and special tokens, with pre-tokenizer name `pre`. */
  const ggufMetadata = (pre: string): Map<string, unknown> => {
    const json = smolJson as { model: { vocab: Record<string, number>; merges: string[] }; added_tokens: { id: number; special: boolean }[] };
    const tokens: string[] = [];
    for (const [t, id] of Object.entries(json.model.vocab)) tokens[id] = t;
    const types = tokens.map((_, id) => (json.added_tokens.some((a) => a.id === id && a.special) ? 3 : 1));
    return new Map<string, unknown>([
      ['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.pre', pre], ['tokenizer.ggml.tokens', tokens],
      ['tokenizer.ggml.merges', json.model.merges], ['tokenizer.ggml.token_type', types], ['tokenizer.ggml.eos_token_id', 0],
    ]);
  };
  /** The oracle on the same vocabulary with `preTokenizer` in place of SmolLM2's. */
  const oracleWith = (preTokenizer: unknown, ignoreMerges = false) => {
    const json = structuredClone(smolJson) as { pre_tokenizer: unknown; model: Record<string, unknown> };
    json.pre_tokenizer = preTokenizer;
    json.model.ignore_merges = ignoreMerges;
    return new HfTokenizer(json, {});
  };
  const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
  const split = (regex: string) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });
  const LLAMA3 = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
  const QWEN2 = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

  it.each([
    ['smollm', () => oracleWith({ type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true)] })],
    ['gpt-2', () => oracleWith(byteLevel(true))],
    // Llama 3's tokenizer.json: the Split regex (case-insensitive contractions), ByteLevel without its regex, ignore_merges.
    ['llama-bpe', () => oracleWith({ type: 'Sequence', pretokenizers: [split(LLAMA3), byteLevel(false)] }, true)],
    ['qwen2', () => oracleWith({ type: 'Sequence', pretokenizers: [split(QWEN2), byteLevel(false)] })],
  ])('%s', (pre, oracleOf) => {
    const ours = new BpeTokenizer(bpeVocabFromGguf(ggufMetadata(pre)));
    const oracle = oracleOf();
    for (const text of [...TEXTS, "IT'S WE'RE THEY'VE", 'x 12345678 y\r\n\r\n z']) {
      expect({ pre, text, ids: ours.encode(text) }).toEqual({ pre, text, ids: oracle.encode(text).ids.map(Number) });
    }
  });
});
