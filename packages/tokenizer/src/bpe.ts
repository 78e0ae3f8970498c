// Byte-level BPE (GPT-2 style, as in SmolLM2, Qwen and Llama 3) following Hugging Face `tokenizers`: added tokens
// are split out first (leftmost-longest), the rest is normalized, pre-tokenized (regex splits, digit splits, then
// ByteLevel, which maps each UTF-8 byte to one printable character), merged by rank within each pre-token, and
// looked up in the vocabulary. Decoding maps the characters back to bytes and reuses the SPM package's UTF-8-safe
// incremental decoder. Vocabularies come from tokenizer.json (bpe-json.ts) or GGUF `gpt2` metadata (bpe-gguf.ts).
import { decodeIds, StreamDecoder, type IncrementalDecoder, type PieceSource } from './decoder.ts';

/** One pre-tokenization step (Hugging Face pre_tokenizer components this package supports). */
export type PreTokenizerStep =
  | { readonly kind: 'split'; readonly pattern: RegExp; readonly behavior: 'isolated' | 'removed' }
  | { readonly kind: 'digits'; readonly individual: boolean }
  | { readonly kind: 'byteLevel'; readonly addPrefixSpace: boolean; readonly useRegex: boolean };

/** A token that is matched in the raw text before anything else (tokenizer.json `added_tokens`). */
export interface AddedToken {
  readonly id: number;
  readonly content: string;
  /** Special tokens (control tokens) render as nothing when decoding generated text. */
  readonly special: boolean;
  /** Absorb whitespace on the left / right of the match. */
  readonly lstrip?: boolean;
  readonly rstrip?: boolean;
  /** Match only when not inside a word. */
  readonly singleWord?: boolean;
}

export interface BpeVocab {
  /** Token strings in byte-level alphabet, indexed by id (holes allowed for ids only added tokens use). */
  readonly tokens: readonly (string | undefined)[];
  /** Merges in priority order (index = rank). */
  readonly merges: readonly (readonly [string, string])[];
  readonly addedTokens: readonly AddedToken[];
  readonly preTokenizer: readonly PreTokenizerStep[];
  /** Unicode normalization applied to non-added text ('none' or 'NFC', 'NFKC'...). */
  readonly normalizer: 'none' | 'NFC' | 'NFD' | 'NFKC' | 'NFKD';
  /** Llama 3: a pre-token that is itself in the vocabulary is emitted whole, without merging. */
  readonly ignoreMerges: boolean;
  readonly bosId: number;
  readonly eosId: number;
  /** Prepend BOS by default (tokenizer.json TemplateProcessing / GGUF add_bos_token). */
  readonly addBos: boolean;
}

export interface BpeEncodeOptions {
  addBos?: boolean;
}

/** GPT-2's byte ↔ character table: printable Latin-1 bytes map to themselves, the rest to U+0100 onwards. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const table: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCodePoint(printable ? b : next++);
  }
  return table;
})();
const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** The GPT-2 pre-tokenizer regex, used by ByteLevel with use_regex (Hugging Face's ByteLevel default). */
export const GPT2_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

/**
 * Compiles a pre-tokenizer pattern written for Oniguruma (the Rust crate's engine) as a JavaScript Unicode regex.
 * The one construct these patterns use that JavaScript (before ES2025 modifiers) lacks is the case-insensitive
 * group `(?i:'s|'t|...)`; its letters are expanded to two-case classes.
 */
export function compilePattern(pattern: string): RegExp {
  const translated = pattern.replace(/\(\?i:((?:[^()\\[\]]|\\.)*)\)/g, (_, body: string) =>
    `(?:${body.replace(/\\.|[a-zA-Z]/g, (c) => (c.length === 1 ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c))})`);
  try {
    return new RegExp(translated, 'gu');
  } catch (error) {
    throw new Error(`BpeTokenizer: cannot compile pre-tokenizer pattern ${JSON.stringify(pattern)}: ${(error as Error).message}`);
  }
}

/** Splits `text` by `pattern`, keeping matches and the text between them as separate pieces (HF 'isolated'). */
function splitIsolated(text: string, pattern: RegExp, keepGaps: boolean, keepMatches: boolean): string[] {
  const out: string[] = [];
  let at = 0;
  for (const m of text.matchAll(pattern)) {
    if (m[0].length === 0) continue;
    if (m.index > at && keepGaps) out.push(text.slice(at, m.index));
    if (keepMatches) out.push(m[0]);
    at = m.index + m[0].length;
  }
  if (at < text.length && keepGaps) out.push(text.slice(at));
  return out;
}

const DIGIT = /[0-9]/g;
const DIGIT_RUN = /[0-9]+/g;
const GPT2_REGEX = compilePattern(GPT2_PATTERN);
const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const WORD_CHAR = /[\p{L}\p{N}_]/u;

export class BpeTokenizer implements PieceSource {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly addBos: boolean;
  /** Byte-level BPE never adds a SentencePiece-style space prefix that decoding would strip. */
  readonly addSpacePrefix = false;

  private readonly tokenToId = new Map<string, number>();
  /** Merge rank by pair key `left + '\n' + right` ('\n' never occurs in byte-level strings: it maps to 'Ċ'). */
  private readonly ranks = new Map<string, number>();
  private readonly pieces: Uint8Array[];
  private readonly addedPattern: RegExp | undefined;
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly cache = new Map<string, number[]>();

  constructor(private readonly vocab: BpeVocab) {
    const n = Math.max(vocab.tokens.length, ...vocab.addedTokens.map((t) => t.id + 1));
    if (n === 0) throw new Error('BpeTokenizer: empty vocabulary');
    this.vocabSize = n;
    vocab.tokens.forEach((t, id) => t !== undefined && this.tokenToId.set(t, id));
    vocab.merges.forEach(([a, b], rank) => {
      const key = `${a}\n${b}`;
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });
    for (const [name, id] of [['bosId', vocab.bosId], ['eosId', vocab.eosId]] as const) {
      if (!Number.isInteger(id) || id < -1 || id >= n) throw new Error(`BpeTokenizer: ${name} ${id} is outside 0..${n - 1} (or -1 for none)`);
    }
    this.bosId = vocab.bosId;
    this.eosId = vocab.eosId;
    this.addBos = vocab.addBos && vocab.bosId >= 0;

    this.pieces = Array.from({ length: n }, (_, id) => tokenPieceBytes(vocab.tokens[id]));
    for (const t of vocab.addedTokens) {
      if (!Number.isInteger(t.id) || t.id < 0) throw new Error(`BpeTokenizer: added token ${JSON.stringify(t.content)} has invalid id ${t.id}`);
      this.pieces[t.id] = t.special ? EMPTY : utf8.encode(t.content);
      if (t.content.length > 0) this.addedByContent.set(t.content, t);
    }
    // Longest first: JavaScript alternation takes the first alternative that matches at the leftmost position.
    const contents = [...this.addedByContent.keys()].sort((a, b) => b.length - a.length);
    this.addedPattern = contents.length > 0 ? new RegExp(contents.map(escapeRegex).join('|'), 'gu') : undefined;
  }

  /** Tokenizes `text`; added tokens written in the text (e.g. `<|im_start|>`) become their ids, as in HF. */
  encode(text: string, options: BpeEncodeOptions = {}): number[] {
    const output: number[] = [];
    if (options.addBos ?? this.addBos) {
      if (this.bosId < 0) throw new Error('BpeTokenizer: addBos requested but the vocabulary has no BOS token');
      output.push(this.bosId);
    }
    for (const fragment of this.splitAdded(text)) {
      if (typeof fragment === 'number') output.push(fragment);
      else this.encodeText(fragment, output);
    }
    return output;
  }

  /** Splits out added tokens, leftmost-longest, honouring lstrip / rstrip / single_word. */
  private splitAdded(text: string): (string | number)[] {
    if (!this.addedPattern) return text.length > 0 ? [text] : [];
    const out: (string | number)[] = [];
    let from = 0;
    for (const m of text.matchAll(this.addedPattern)) {
      const token = this.addedByContent.get(m[0])!;
      let start = m.index;
      let end = start + m[0].length;
      if (start < from) continue;
      if (token.singleWord && ((start > 0 && WORD_CHAR.test(text[start - 1]!)) || (end < text.length && WORD_CHAR.test(text[end]!)))) continue;
      if (token.lstrip) while (start > from && /\s/u.test(text[start - 1]!)) start--;
      if (token.rstrip) while (end < text.length && /\s/u.test(text[end]!)) end++;
      if (start > from) out.push(text.slice(from, start));
      out.push(token.id);
      from = end;
    }
    if (from < text.length) out.push(text.slice(from));
    return out;
  }

  private encodeText(text: string, output: number[]): void {
    const normalized = this.vocab.normalizer === 'none' ? text : text.normalize(this.vocab.normalizer);
    let pieces = [normalized];
    for (const step of this.vocab.preTokenizer) pieces = pieces.flatMap((p) => applyStep(step, p));
    for (const word of pieces) {
      let ids = this.cache.get(word);
      if (!ids) {
        ids = this.bpe(word);
        if (this.cache.size < 1 << 16) this.cache.set(word, ids);
      }
      for (const id of ids) output.push(id);
    }
  }

  /**
   * Merges one byte-level pre-token: repeatedly the adjacent pair of lowest rank, leftmost on ties (as HF's
   * `Word::merge_all`). Symbols form a linked list and candidate pairs a binary heap, so a long pre-token (a pasted
   * base64 blob is one "word") costs O(n log n), not O(n²).
   */
  private bpe(word: string): number[] {
    if (this.vocab.ignoreMerges) {
      const whole = this.tokenToId.get(word);
      if (whole !== undefined) return [whole];
    }
    const text = Array.from(word);
    const n = text.length;
    const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
    const heap = new PairHeap();
    const consider = (left: number) => {
      const right = next[left]!;
      if (left < 0 || right < 0) return;
      const rank = this.ranks.get(`${text[left]}\n${text[right]}`);
      if (rank !== undefined) heap.push(rank, left, right, text[left]!.length + text[right]!.length);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    for (let top = heap.pop(); top; top = heap.pop()) {
      const [, left, right, length] = top;
      // Stale entries: a side was merged away or grew since the pair was queued.
      if (next[left] !== right || text[left]!.length + text[right]!.length !== length) continue;
      text[left] = text[left]! + text[right]!;
      text[right] = '';
      const after = next[right]!;
      next[left] = after;
      if (after >= 0) prev[after] = left;
      next[right] = -1;
      consider(prev[left]!);
      consider(left);
    }
    const ids: number[] = [];
    for (let i = 0; i >= 0 && i < n; i = next[i]!) {
      const id = this.tokenToId.get(text[i]!);
      if (id === undefined) throw new Error(`BpeTokenizer: symbol ${JSON.stringify(text[i])} is not in the vocabulary (incomplete byte alphabet)`);
      ids.push(id);
    }
    return ids;
  }

  /** The bytes one token contributes to decoded text (a fresh copy); special added tokens give none. */
  tokenBytes(id: number): Uint8Array {
    return this.pieceBytes(id).slice();
  }

  /** @internal Shared piece bytes, for the decoders. */
  pieceBytes(id: number): Uint8Array {
    const bytes = this.pieces[id];
    if (bytes === undefined) throw new RangeError(`BpeTokenizer: token id ${id} is outside 0..${this.vocabSize - 1}`);
    return bytes;
  }

  /** Ids back to text (invalid UTF-8 becomes U+FFFD); special tokens are skipped. */
  decode(ids: readonly number[]): string {
    return decodeIds(this, ids);
  }

  /** A decoder for ids arriving one at a time that never splits a UTF-8 character. */
  createDecoder(): IncrementalDecoder {
    return new StreamDecoder(this);
  }
}

function applyStep(step: PreTokenizerStep, text: string): string[] {
  switch (step.kind) {
    case 'split':
      return splitIsolated(text, step.pattern, true, step.behavior === 'isolated');
    case 'digits':
      return splitIsolated(text, step.individual ? DIGIT : DIGIT_RUN, true, true);
    case 'byteLevel': {
      const prefixed = step.addPrefixSpace && !text.startsWith(' ') ? ` ${text}` : text;
      const parts = step.useRegex ? splitIsolated(prefixed, GPT2_REGEX, true, true) : [prefixed];
      return parts.map((p) => Array.from(utf8.encode(p), (b) => BYTE_TO_CHAR[b]!).join(''));
    }
  }
}

/**
 * A vocabulary token's bytes: its characters mapped back through the byte table; a token with any character
 * outside the table (e.g. an added token stored in the vocabulary as plain text) is its own UTF-8, as HF's
 * ByteLevel decoder does.
 */
function tokenPieceBytes(token: string | undefined): Uint8Array {
  if (token === undefined) return EMPTY;
  const bytes: number[] = [];
  for (const c of token) {
    const b = CHAR_TO_BYTE.get(c);
    if (b === undefined) return utf8.encode(token);
    bytes.push(b);
  }
  return Uint8Array.from(bytes);
}

/** Min-heap of candidate merges ordered by (rank, left position). Entries: [rank, left, right, merged length]. */
class PairHeap {
  private readonly items: [number, number, number, number][] = [];

  push(rank: number, left: number, right: number, length: number): void {
    const items = this.items;
    items.push([rank, left, right, length]);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): [number, number, number, number] | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < items.length && less(items[l]!, items[m]!)) m = l;
        if (r < items.length && less(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }
}

const less = (a: readonly number[], b: readonly number[]): boolean => a[0]! < b[0]! || (a[0] === b[0] && a[1]! < b[1]!);
