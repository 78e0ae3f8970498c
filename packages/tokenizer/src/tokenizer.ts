// SentencePiece ("llama") tokenizer reproducing llama.cpp's SPM path: `llama_vocab::impl::tokenize` (BOS, space
// prefix, user-defined token partition, whitespace escaping) around `llm_tokenizer_spm_session` (spm-merge.ts), and
// `token_to_piece` / `detokenize` for the way back (decoder.ts).
import { decodeIds, StreamDecoder, type IncrementalDecoder, type PieceSource } from './decoder.ts';
import { spmMerge, type MergeVocab } from './spm-merge.ts';
import { TokenType, type SpmVocab } from './vocab.ts';

/** SentencePiece's visible space; llama.cpp's llama_escape_whitespace maps ' ' to it (and only ' '). */
const SPACE_MARK = '\u2581';
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;
const EMPTY = new Uint8Array(0);

/** A stretch of input: raw text still to tokenize, or the id of a user-defined token found in it. */
type Fragment = string | number;

/** Options of {@link SpmTokenizer.encode}. */
export interface EncodeOptions {
  /** Prepend BOS; defaults to the vocabulary's `addBos` (GGUF tokenizer.ggml.add_bos_token). */
  addBos?: boolean;
}

/**
 * Tokenizer for GGUF `tokenizer.ggml.model = "llama"` vocabularies: SentencePiece BPE driven by piece scores, with
 * byte fallback. Ids match llama.cpp's `llama_tokenize(..., parse_special = false)`: control tokens written in the
 * text (e.g. "<s>") are ordinary text, while user-defined tokens are split out first, as llama.cpp always does.
 */
export class SpmTokenizer implements PieceSource {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;
  readonly addBos: boolean;
  readonly addSpacePrefix: boolean;

  private readonly merge: MergeVocab;
  /** UTF-8 of each token's rendered piece, built once so decoding is a lookup. */
  private readonly pieces: Uint8Array[];
  /** Token for each byte value in byte fallback (-1: none). */
  private readonly byteToId: Int32Array;
  /** User-defined tokens, longest first (llama.cpp partitions by descending length). */
  private readonly userDefined: { piece: string; id: number }[];

  /** @throws Error if the vocabulary's arrays disagree in length, a special id is out of range or a byte token is malformed. */
  constructor(vocab: SpmVocab) {
    const { tokens, scores, tokenTypes } = vocab;
    const n = tokens.length;
    if (n === 0) throw new Error('SpmTokenizer: empty vocabulary');
    if (scores.length !== n || tokenTypes.length !== n) {
      throw new Error(`SpmTokenizer: ${n} tokens but ${scores.length} scores and ${tokenTypes.length} token types`);
    }
    for (const [name, id] of [['bosId', vocab.bosId], ['eosId', vocab.eosId], ['unkId', vocab.unkId]] as const) {
      if (!Number.isInteger(id) || id < -1 || id >= n) throw new Error(`SpmTokenizer: ${name} ${id} is outside 0..${n - 1} (or -1 for none)`);
    }
    this.vocabSize = n;
    this.bosId = vocab.bosId;
    this.eosId = vocab.eosId;
    this.unkId = vocab.unkId;
    this.addBos = vocab.addBos;
    this.addSpacePrefix = vocab.addSpacePrefix;

    // Later duplicates win, like llama.cpp's `token_to_id[text] = id` fill loop.
    const pieceToId = new Map<string, number>();
    tokens.forEach((piece, id) => pieceToId.set(piece, id));

    const encoder = new TextEncoder();
    this.pieces = tokens.map((piece, id) => renderPiece(piece, tokenTypes[id]!, encoder));
    this.userDefined = tokens
      .map((piece, id) => ({ piece, id, bytes: encoder.encode(piece).length }))
      .filter(({ id, bytes }) => tokenTypes[id] === TokenType.USER_DEFINED && bytes > 0)
      .sort((a, b) => b.bytes - a.bytes || a.id - b.id)
      .map(({ piece, id }) => ({ piece, id }));

    // llama.cpp's byte_to_token: the "<0xXX>" piece, else the one-character piece, else (our addition) unk.
    this.byteToId = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const hex = b.toString(16).toUpperCase().padStart(2, '0');
      const single = b < 0x80 ? pieceToId.get(String.fromCharCode(b)) : undefined;
      this.byteToId[b] = pieceToId.get(`<0x${hex}>`) ?? single ?? this.unkId;
    }

    const byteToId = this.byteToId;
    this.merge = {
      pieceToId,
      scores,
      byteFallback(text: string, output: number[]): void {
        for (const byte of encoder.encode(text)) {
          const id = byteToId[byte]!;
          if (id < 0) throw new Error(`SpmTokenizer: no byte token for 0x${byte.toString(16)} and no unknown token`);
          output.push(id);
        }
      },
    };
  }

  /** Tokenizes `text` (treated as plain text: control tokens are not parsed). */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const output: number[] = [];
    if (options.addBos ?? this.addBos) {
      if (this.bosId < 0) throw new Error('SpmTokenizer: addBos requested but the vocabulary has no BOS token');
      output.push(this.bosId);
    }
    // The space prefix goes in front of each raw fragment that starts the text or follows a user-defined token,
    // as llama.cpp's `is_prev_special`; an empty text yields no fragment and so no '▁' token.
    let prevSpecial = true;
    for (const fragment of this.partition(text)) {
      if (typeof fragment === 'number') {
        output.push(fragment);
        prevSpecial = true;
        continue;
      }
      const prefixed = this.addSpacePrefix && prevSpecial ? ` ${fragment}` : fragment;
      spmMerge(prefixed.replaceAll(' ', SPACE_MARK), this.merge, output);
      prevSpecial = false;
    }
    return output;
  }

  /**
   * The bytes of one token's piece: '▁' becomes ' ' in normal tokens, byte tokens ("<0x0A>") give their byte,
   * user-defined tokens their text as is, and control / unknown / unused tokens nothing (llama.cpp's
   * `token_to_piece` with special = false). Returns a fresh copy.
   * @throws RangeError for an id outside the vocabulary.
   */
  tokenBytes(id: number): Uint8Array {
    return this.pieceBytes(id).slice();
  }

  /** @internal Shared (not copied) piece bytes, for the decoders. */
  pieceBytes(id: number): Uint8Array {
    const bytes = this.pieces[id];
    if (bytes === undefined) throw new RangeError(`SpmTokenizer: token id ${id} is outside 0..${this.vocabSize - 1}`);
    return bytes;
  }

  /**
   * Turns ids back into text, dropping control tokens and removing the one leading space that `addSpacePrefix`
   * added, at the start or right after BOS. Invalid UTF-8 becomes U+FFFD.
   */
  decode(ids: readonly number[]): string {
    return decodeIds(this, ids);
  }

  /** A decoder for generated ids arriving one at a time; its outputs concatenate to `decode` of the same ids. */
  createDecoder(): IncrementalDecoder {
    return new StreamDecoder(this);
  }

  /**
   * llama.cpp's `tokenizer_st_partition` with parse_special = false: every occurrence of a user-defined token is cut
   * out of the raw text, longest tokens first, leaving non-empty raw fragments in between.
   */
  private partition(text: string): Fragment[] {
    let fragments: Fragment[] = text.length > 0 ? [text] : [];
    for (const { piece, id } of this.userDefined) {
      const next: Fragment[] = [];
      for (const fragment of fragments) {
        if (typeof fragment === 'number') {
          next.push(fragment);
          continue;
        }
        let from = 0;
        for (let at = fragment.indexOf(piece); at !== -1; at = fragment.indexOf(piece, from)) {
          if (at > from) next.push(fragment.slice(from, at));
          next.push(id);
          from = at + piece.length;
        }
        if (from < fragment.length) next.push(fragment.slice(from));
      }
      fragments = next;
    }
    return fragments;
  }
}

/** The UTF-8 a token renders to when decoding (see {@link SpmTokenizer.tokenBytes}). */
function renderPiece(piece: string, type: number, encoder: TextEncoder): Uint8Array {
  switch (type) {
    case TokenType.NORMAL:
      return encoder.encode(piece.replaceAll(SPACE_MARK, ' '));
    case TokenType.USER_DEFINED:
      return encoder.encode(piece);
    case TokenType.BYTE: {
      const match = BYTE_PIECE.exec(piece);
      if (match === null) throw new Error(`SpmTokenizer: byte token ${JSON.stringify(piece)} is not of the form <0xXX>`);
      return Uint8Array.of(Number.parseInt(match[1]!, 16));
    }
    default:
      // Control, unknown, unused and undefined types render as nothing, as llama.cpp does without `special`.
      return EMPTY;
  }
}
