// Seeded, structure-aware mutation of model files, for the fuzz tests (CI) and `pnpm fuzz` (the long run). A valid
// fixture is walked once to find its header fields (counts, lengths, value types, dims, tensor types, offsets);
// variants then overwrite those fields with boundary values, flip bits, insert, delete or duplicate bytes, or cut
// the file short. Only the header region is copied per variant: the tensor data stays shared (see spliceSource).
// Every variant is reproducible from (fixture, seed, index); failures print all three.
import { bytesSource, checkRange, FormatError, type ByteSource } from './byte-source.ts';
import { GGUF_MAGIC, GgufValueType } from './gguf.ts';
import { mulberry32 } from './random.ts';

export type FieldKind = 'magic' | 'version' | 'count' | 'length' | 'value-type' | 'value' | 'n-dims' | 'dim' | 'tensor-type' | 'offset';

/** One integer field of a file header, found by walking a valid file. */
export interface HeaderField {
  readonly offset: number;
  readonly size: 1 | 4 | 8;
  readonly kind: FieldKind;
}

export interface HeaderMap {
  readonly fields: readonly HeaderField[];
  /** End of the header region the mutators work on (GGUF: the aligned start of tensor data; safetensors: 8 + N). */
  readonly headerEnd: number;
}

const FIXED_VALUE_BYTES: Readonly<Record<number, 1 | 2 | 4 | 8>> = {
  [GgufValueType.UINT8]: 1, [GgufValueType.INT8]: 1, [GgufValueType.BOOL]: 1, [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2, [GgufValueType.UINT32]: 4, [GgufValueType.INT32]: 4, [GgufValueType.FLOAT32]: 4,
  [GgufValueType.UINT64]: 8, [GgufValueType.INT64]: 8, [GgufValueType.FLOAT64]: 8,
};

/** Walks a valid GGUF file (a trusted fixture; throws a plain Error otherwise) and lists its header fields. */
export function ggufHeaderMap(bytes: Uint8Array): HeaderMap {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: HeaderField[] = [];
  let at = 0;
  const field = (size: 4 | 8, kind: FieldKind): number => {
    fields.push({ offset: at, size, kind });
    const v = size === 4 ? view.getUint32(at, true) : Number(view.getBigUint64(at, true));
    at += size;
    return v;
  };
  if (field(4, 'magic') !== GGUF_MAGIC) throw new Error('ggufHeaderMap: not a GGUF fixture');
  field(4, 'version');
  const tensorCount = field(8, 'count');
  const kvCount = field(8, 'count');
  let alignment = 32;
  const skipValue = (type: number, kind: FieldKind): number | undefined => {
    if (type === GgufValueType.STRING) {
      const length = field(8, 'length');
      at += length;
      return undefined;
    }
    const size = FIXED_VALUE_BYTES[type];
    if (size === undefined) throw new Error(`ggufHeaderMap: value type ${type} in a fixture`);
    if (size !== 2) fields.push({ offset: at, size, kind });
    const v = size === 4 ? view.getUint32(at, true) : undefined;
    at += size;
    return v;
  };
  for (let i = 0; i < kvCount; i++) {
    const keyLength = field(8, 'length');
    const key = new TextDecoder().decode(bytes.subarray(at, at + keyLength));
    at += keyLength;
    const type = field(4, 'value-type');
    if (type === GgufValueType.ARRAY) {
      const elementType = field(4, 'value-type');
      const n = field(8, 'count');
      if (elementType === GgufValueType.STRING) {
        for (let j = 0; j < n; j++) skipValue(elementType, 'value');
      } else {
        // Arrays of numbers: only the first few elements are listed, so the map stays small.
        const size = FIXED_VALUE_BYTES[elementType];
        if (size === undefined) throw new Error(`ggufHeaderMap: array of value type ${elementType} in a fixture`);
        for (let j = 0; j < n; j++) {
          if (j < 4 && size !== 2) fields.push({ offset: at, size, kind: 'value' });
          at += size;
        }
      }
    } else {
      const v = skipValue(type, 'value');
      if (key === 'general.alignment' && v !== undefined) alignment = v;
    }
  }
  for (let i = 0; i < tensorCount; i++) {
    const nameLength = field(8, 'length');
    at += nameLength;
    const nDims = field(4, 'n-dims');
    for (let d = 0; d < nDims; d++) field(8, 'dim');
    field(4, 'tensor-type');
    field(8, 'offset');
  }
  return { fields, headerEnd: Math.ceil(at / alignment) * alignment };
}

/** A safetensors header: the u64 length, then the JSON text; numbers inside the JSON are mutated as text. */
export function safetensorsHeaderMap(bytes: Uint8Array): HeaderMap {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  return { fields: [{ offset: 0, size: 8, kind: 'length' }], headerEnd: 8 + length };
}

/**
 * A ByteSource over `front` followed by `rest`, without concatenating them: each variant copies only the header
 * region it mutates, and reads beyond it (tensor data) come from the shared original bytes.
 */
export function spliceSource(front: Uint8Array, rest: Uint8Array, name: string, byteLength = front.byteLength + rest.byteLength): ByteSource {
  if (byteLength <= front.byteLength) return bytesSource(front.subarray(0, byteLength), name);
  const restLength = byteLength - front.byteLength;
  const source: ByteSource = {
    byteLength,
    name,
    async read(byteOffset, length) {
      checkRange(source, byteOffset, length);
      const end = byteOffset + length;
      if (end <= front.byteLength) return front.subarray(byteOffset, end);
      if (byteOffset >= front.byteLength) return rest.subarray(byteOffset - front.byteLength, end - front.byteLength);
      const out = new Uint8Array(length);
      out.set(front.subarray(byteOffset));
      out.set(rest.subarray(0, Math.min(restLength, end - front.byteLength)), front.byteLength - byteOffset);
      return out;
    },
  };
  return source;
}

/** Values at the edges of every check: zero, small, powers of two, 32/53/64-bit limits, the file's own sizes. */
function interestingValues(fileLength: number, headerEnd: number): bigint[] {
  const base = [0n, 1n, 2n, 3n, 4n, 5n, 7n, 8n, 9n, 12n, 16n, 31n, 32n, 33n, 64n, 255n, 256n, 4096n, 65535n, 65536n,
    2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n,
    2n ** 63n, 2n ** 64n - 1n];
  const sizes = [fileLength, headerEnd].flatMap((n) => [BigInt(n) - 1n, BigInt(n), BigInt(n) + 1n, BigInt(n) * 2n]);
  return [...base, ...sizes].filter((v) => v >= 0n);
}

export interface Mutation {
  /** The new header region (a copy). */
  readonly front: Uint8Array;
  /** Total file length after the mutation (shorter than front + rest for truncations). */
  readonly byteLength: number;
  readonly description: string;
}

/** Makes variants of one fixture: `mutate(index)` is a pure function of (fixture, seed, index). */
export class Mutator {
  private readonly header: Uint8Array;
  readonly rest: Uint8Array;
  private readonly interesting: bigint[];
  private readonly jsonNumbers: number[];
  private readonly byKind: HeaderField[][];

  constructor(readonly bytes: Uint8Array, readonly map: HeaderMap, private readonly seed: number) {
    this.header = bytes.subarray(0, map.headerEnd);
    this.rest = bytes.subarray(map.headerEnd);
    this.interesting = interestingValues(bytes.byteLength, map.headerEnd);
    const kinds = new Map<FieldKind, HeaderField[]>();
    for (const f of map.fields) kinds.set(f.kind, [...(kinds.get(f.kind) ?? []), f]);
    this.byKind = [...kinds.values()];
    // Positions of digits in a JSON header (safetensors), for numeric text mutations.
    this.jsonNumbers = [];
    if (map.fields.length === 1) {
      for (let i = 8; i < this.header.byteLength; i++) if (this.header[i]! >= 0x30 && this.header[i]! <= 0x39) this.jsonNumbers.push(i);
    }
  }

  mutate(index: number): Mutation {
    const random = mulberry32((this.seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
    const int = (n: number) => Math.floor(random() * n);
    const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
    const header = this.header;
    const total = this.bytes.byteLength;
    const kind = int(100);
    // Truncations: mostly inside the header (where the parser works), some anywhere (tensor-range checks).
    if (kind < 15) {
      const byteLength = kind < 10 ? int(header.byteLength + 1) : int(total);
      return { front: header, byteLength, description: `truncate to ${byteLength} bytes` };
    }
    const front = header.slice();
    const view = new DataView(front.buffer);
    const writeField = (f: HeaderField, v: bigint): void => {
      if (f.size === 8) view.setBigUint64(f.offset, BigInt.asUintN(64, v), true);
      else if (f.size === 4) view.setUint32(f.offset, Number(BigInt.asUintN(32, v)), true);
      else view.setUint8(f.offset, Number(BigInt.asUintN(8, v)));
    };
    const readField = (f: HeaderField): bigint =>
      f.size === 8 ? view.getBigUint64(f.offset, true) : BigInt(f.size === 4 ? view.getUint32(f.offset, true) : view.getUint8(f.offset));
    if (kind < 55 && this.map.fields.length > 1) {
      // Structure-aware: one or more fields set to boundary values, near-misses of their own value, or small types.
      const descriptions: string[] = [];
      const count = 1 + (random() < 0.25 ? int(3) : 0);
      for (let i = 0; i < count; i++) {
        // Kind first, then a field of that kind: otherwise the thousands of vocabulary string lengths drown the
        // few counts, dims, types and offsets.
        const f = pick(this.byKind[int(this.byKind.length)]!);
        const old = readField(f);
        const choice = int(4);
        const v = f.kind === 'value-type' || f.kind === 'tensor-type' || f.kind === 'n-dims' ? BigInt(int(40))
          : choice === 0 ? old + BigInt(int(17) - 8)
            : choice === 1 ? old * 2n + BigInt(int(2))
              : pick(this.interesting);
        writeField(f, v);
        descriptions.push(`${f.kind}@${f.offset}=${v}`);
      }
      return { front, byteLength: total, description: `set ${descriptions.join(', ')}` };
    }
    if (kind < 65 && this.jsonNumbers.length > 0) {
      // safetensors JSON: a digit run replaced by an extreme number (shape, offsets) or a minus sign.
      const at = pick(this.jsonNumbers);
      const text = pick(['0', '9', '-1', '99999999999999999999', '1e308', '9007199254740993', '4294967296', '1.5', '"x"', 'null', '[]']);
      const encoded = new TextEncoder().encode(text);
      const out = new Uint8Array(front.byteLength - 1 + encoded.byteLength);
      out.set(front.subarray(0, at));
      out.set(encoded, at);
      out.set(front.subarray(at + 1), at + encoded.byteLength);
      // Keep the declared header length consistent half of the time, so the JSON itself is what gets tested.
      if (random() < 0.5) new DataView(out.buffer).setBigUint64(0, BigInt(out.byteLength - 8), true);
      return { front: out, byteLength: total - front.byteLength + out.byteLength, description: `json digit@${at} -> ${text}` };
    }
    if (kind < 85) {
      const flips = 1 + int(8);
      for (let i = 0; i < flips; i++) front[int(front.byteLength)]! ^= 1 << int(8);
      return { front, byteLength: total, description: `flip ${flips} bits (seeded)` };
    }
    // Byte-range edits that shift everything after them: delete, insert random bytes, duplicate a range.
    const at = int(front.byteLength);
    const span = 1 + int(Math.min(64, front.byteLength - at));
    const edit = int(3);
    let out: Uint8Array;
    if (edit === 0) {
      out = new Uint8Array(front.byteLength - span);
      out.set(front.subarray(0, at));
      out.set(front.subarray(at + span), at);
    } else {
      const inserted = edit === 1 ? Uint8Array.from({ length: span }, () => int(256)) : front.slice(at, at + span);
      out = new Uint8Array(front.byteLength + span);
      out.set(front.subarray(0, at));
      out.set(inserted, at);
      out.set(front.subarray(at), at + span);
    }
    return { front: out, byteLength: total - front.byteLength + out.byteLength, description: `${['delete', 'insert', 'duplicate'][edit]} ${span} bytes at ${at}` };
  }
}

export interface FuzzReport {
  readonly variants: number;
  /** Variants the check accepted (valid parse, and whatever else the check does). */
  readonly accepted: number;
  /** Rejections by FormatError code. */
  readonly rejectedByCode: Readonly<Record<string, number>>;
  /** Variants that threw anything but a one-line FormatError, or took longer than the hang limit. */
  readonly failures: readonly string[];
  readonly slowestMs: number;
  readonly elapsedMs: number;
}

/** Milliseconds a single variant may take before it counts as a hang (real checks take well under 10 ms). */
export const FUZZ_HANG_MS = 5_000;

/**
 * Runs `check` on `variants` mutations of one fixture. A variant passes when the check resolves, or rejects with a
 * FormatError whose message is one line; anything else (TypeError, RangeError, an unbounded allocation's error, a
 * timeout) is a failure, reported with what is needed to reproduce it.
 */
export async function fuzzFile(options: {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly map: HeaderMap;
  readonly seed: number;
  readonly variants: number;
  readonly check: (source: ByteSource) => Promise<unknown>;
  /** Index of the first variant (to continue a run or replay one variant). */
  readonly first?: number;
}): Promise<FuzzReport> {
  const mutator = new Mutator(options.bytes, options.map, options.seed);
  const rejectedByCode: Record<string, number> = {};
  const failures: string[] = [];
  let accepted = 0;
  let slowestMs = 0;
  const started = performance.now();
  const first = options.first ?? 0;
  for (let index = first; index < first + options.variants; index++) {
    const m = mutator.mutate(index);
    const source = spliceSource(m.front, mutator.rest, options.name, m.byteLength);
    const t0 = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hang = new Promise<'hang'>((resolve) => { timer = setTimeout(() => resolve('hang'), FUZZ_HANG_MS); });
    try {
      const outcome = await Promise.race([options.check(source), hang]);
      if (outcome === 'hang') failures.push(`${options.name} seed ${options.seed} variant ${index} (${m.description}): no answer after ${FUZZ_HANG_MS} ms`);
      else accepted++;
    } catch (error) {
      if (error instanceof FormatError && !/[\r\n]/.test(error.message) && error.message.length > 0) {
        rejectedByCode[error.code] = (rejectedByCode[error.code] ?? 0) + 1;
      } else {
        const what = error instanceof Error ? `${error.name}: ${error.message.slice(0, 300)}` : String(error);
        failures.push(`${options.name} seed ${options.seed} variant ${index} (${m.description}): ${what}`);
      }
    } finally {
      clearTimeout(timer);
    }
    slowestMs = Math.max(slowestMs, performance.now() - t0);
  }
  return { variants: options.variants, accepted, rejectedByCode, failures, slowestMs, elapsedMs: performance.now() - started };
}
