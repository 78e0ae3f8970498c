// Detokenization: token ids -> UTF-8 bytes -> text. Byte-fallback tokens carry single UTF-8 bytes, so a character
// may span several tokens; a streaming TextDecoder holds back an incomplete sequence until its last byte arrives and
// turns invalid bytes into U+FFFD exactly as a one-shot decode of the same bytes would, which is what makes the
// incremental output concatenate to the same string as `decode`.

/** Streams text out of token ids one at a time. */
export interface IncrementalDecoder {
  /** Returns the newly complete text (may be '' while a multi-byte UTF-8 character is incomplete). */
  push(id: number): string;
  /** Flushes the remaining bytes (an incomplete or invalid sequence becomes U+FFFD) and returns the text. */
  flush(): string;
}

/** What detokenization needs from the tokenizer. */
export interface PieceSource {
  readonly bosId: number;
  readonly addSpacePrefix: boolean;
  /** The piece's bytes; may be a shared buffer, never mutated here. */
  pieceBytes(id: number): Uint8Array;
}

/**
 * Removes the space that `add_space_prefix` put in front of the text at encode time: the first byte of the first
 * piece, when it is a space, at the start of the stream or right after BOS. llama.cpp's `detokenize` strips it
 * only for the very first token; also re-arming after BOS makes `[BOS, ...ids]` and concatenated encodings round-trip.
 */
export class SpaceStripper {
  private armed: boolean;

  constructor(private readonly source: PieceSource) {
    this.armed = source.addSpacePrefix;
  }

  /** Bytes contributed by `id` at this point of the stream. */
  bytes(id: number): Uint8Array {
    const bytes = this.source.pieceBytes(id);
    if (id === this.source.bosId) {
      this.armed = this.source.addSpacePrefix;
      return bytes;
    }
    // Any other token (even one that renders as nothing, like EOS) ends the "at start" position, as in llama.cpp.
    const strip = this.armed && bytes[0] === 0x20;
    this.armed = false;
    return strip ? bytes.subarray(1) : bytes;
  }
}

/** ignoreBOM: a leading U+FEFF is text the model produced, not an encoding mark to swallow. */
const newTextDecoder = (): TextDecoder => new TextDecoder('utf-8', { ignoreBOM: true });

/** Decodes a whole sequence at once. */
export function decodeIds(source: PieceSource, ids: readonly number[]): string {
  const stripper = new SpaceStripper(source);
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const id of ids) {
    const bytes = stripper.bytes(id);
    parts.push(bytes);
    total += bytes.length;
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return newTextDecoder().decode(all);
}

/** The incremental decoder behind `SpmTokenizer.createDecoder()`. */
export class StreamDecoder implements IncrementalDecoder {
  private readonly stripper: SpaceStripper;
  private readonly textDecoder = newTextDecoder();

  constructor(source: PieceSource) {
    this.stripper = new SpaceStripper(source);
  }

  push(id: number): string {
    const bytes = this.stripper.bytes(id);
    return bytes.length === 0 ? '' : this.textDecoder.decode(bytes, { stream: true });
  }

  flush(): string {
    // A non-streaming call ends the stream and resets the TextDecoder, so pushing may go on afterwards.
    return this.textDecoder.decode();
  }
}
