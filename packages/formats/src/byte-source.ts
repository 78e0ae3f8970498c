/**
 * Random access to the bytes of a model file, one range at a time, so a multi-GiB file never has to sit in
 * memory whole. Implementations: Blob/File (browser and Node), HTTP range requests, Node file handles
 * (see `openNodeFile` in the CLI, which keeps `node:fs` out of this browser-safe package), and in-memory bytes.
 */
export interface ByteSource {
  /** Total size in bytes. */
  readonly byteLength: number;
  /** A human-readable name for error messages (file name or URL). */
  readonly name: string;
  /** Reads `[byteOffset, byteOffset + byteLength)`; the range must lie inside the source. */
  read(byteOffset: number, byteLength: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

/**
 * What kind of problem a {@link FormatError} reports, for callers that react differently (docs/reliability.md):
 * - `bad_magic`, `unsupported_version`: not a file of this format / a version qgpu does not read;
 * - `truncated`: a field or tensor runs past the end of the file;
 * - `limit`: a count or length is larger than the file could hold, or than qgpu's header bounds;
 * - `bad_value`: a malformed value (unknown value type, bool byte, alignment, nested array, bad JSON);
 * - `duplicate`: a metadata key or tensor name appears twice;
 * - `bad_tensor`: a tensor's dimensions, type or size are inconsistent (overflow, partial blocks);
 * - `out_of_bounds`: a tensor's data range is misaligned, overlaps another or lies outside the file;
 * - `missing`: metadata or a tensor the model needs is absent;
 * - `bad_metadata`: model metadata has the wrong type or an impossible value (e.g. heads not dividing the width);
 * - `unsupported`: valid but not something qgpu runs (architecture, tensor type, tokenizer model);
 * - `bad_tokenizer`: the tokenizer metadata is inconsistent;
 * - `io`: the bytes could not be read (no such file, HTTP error, short read).
 */
export type FormatErrorCode =
  | 'bad_magic' | 'unsupported_version' | 'truncated' | 'limit' | 'bad_value' | 'duplicate' | 'bad_tensor'
  | 'out_of_bounds' | 'missing' | 'bad_metadata' | 'unsupported' | 'bad_tokenizer' | 'io' | 'invalid';

/**
 * Raised for any failure to read or understand a model file; the message is one line naming the problem. Control
 * characters (a newline in a hostile tensor name or file name) are escaped, so the message stays one line.
 */
export class FormatError extends Error {
  override readonly name = 'FormatError';
  constructor(message: string, readonly code: FormatErrorCode = 'invalid') {
    super(message.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`));
  }
}

/** A string taken from a file (key, tensor name, architecture) as it appears in a message: quoted, at most 80 characters. */
export function printable(text: string): string {
  const cut = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  return `'${cut}'`;
}

export function bytesSource(bytes: Uint8Array, name = 'memory'): ByteSource {
  return {
    byteLength: bytes.byteLength,
    name,
    async read(byteOffset, byteLength) {
      checkRange(this, byteOffset, byteLength);
      return bytes.subarray(byteOffset, byteOffset + byteLength);
    },
  };
}

export function blobSource(blob: Blob, name = blob instanceof File ? blob.name : 'blob'): ByteSource {
  return {
    byteLength: blob.size,
    name,
    async read(byteOffset, byteLength) {
      checkRange(this, byteOffset, byteLength);
      return new Uint8Array(await blob.slice(byteOffset, byteOffset + byteLength).arrayBuffer());
    },
  };
}

/**
 * Every request for remote model bytes: CORS only (the server must allow this origin; opaque no-cors responses are
 * never read) and no credentials (no cookies or HTTP auth go to model hosts, so a model URL cannot act as the user).
 */
export const REMOTE_FETCH = { mode: 'cors', credentials: 'omit' } as const satisfies RequestInit;

/**
 * Reads a remote file with HTTP range requests. The size comes from a `HEAD` request (or, if the server does not
 * answer HEAD, from the `Content-Range` of a one-byte ranged GET). A server that ignores `Range` is an error,
 * because silently downloading the whole file per tensor would be disastrous.
 */
export async function urlSource(url: string, init: { signal?: AbortSignal } = {}): Promise<ByteSource> {
  const signal = init.signal ?? null;
  let size = NaN;
  const head = await fetch(url, { method: 'HEAD', signal, ...REMOTE_FETCH }).catch(() => undefined);
  if (head?.ok) size = Number(head.headers.get('content-length'));
  if (!Number.isFinite(size) || size <= 0) {
    const probe = await fetch(url, { headers: { Range: 'bytes=0-0' }, signal, ...REMOTE_FETCH });
    const total = probe.headers.get('content-range')?.split('/')[1];
    size = Number(total);
    await probe.body?.cancel();
    if (!probe.ok || !Number.isFinite(size)) throw new FormatError(`${url}: cannot determine file size (HTTP ${probe.status})`, 'io');
  }
  const source: ByteSource = {
    byteLength: size,
    name: url,
    async read(byteOffset: number, byteLength: number) {
      checkRange(source, byteOffset, byteLength);
      if (byteLength === 0) return new Uint8Array(0);
      const res = await fetch(url, {
        headers: { Range: `bytes=${byteOffset}-${byteOffset + byteLength - 1}` },
        signal,
        ...REMOTE_FETCH,
      });
      if (res.status !== 206 && !(res.status === 200 && byteOffset === 0 && byteLength === size)) {
        throw new FormatError(`${url}: server did not honour a range request (HTTP ${res.status})`, 'io');
      }
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (bytes.byteLength !== byteLength) throw new FormatError(`${url}: short read at byte ${byteOffset}`, 'io');
      return bytes;
    },
  };
  return source;
}

export function checkRange(source: ByteSource, byteOffset: number, byteLength: number): void {
  if (!Number.isSafeInteger(byteOffset) || !Number.isSafeInteger(byteLength) || byteOffset < 0 || byteLength < 0 ||
      byteOffset + byteLength > source.byteLength) {
    throw new FormatError(`${source.name}: byte range [${byteOffset}, ${byteOffset + byteLength}) is outside the file (${source.byteLength} bytes)`, 'out_of_bounds');
  }
}
