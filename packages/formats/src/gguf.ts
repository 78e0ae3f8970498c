// GGUF v2/v3 reader (v1, which llama.cpp itself no longer reads, is rejected): header, metadata (every value type,
// arrays included) and tensor infos are parsed from the front of the file through a chunked cursor; tensor data is
// read later, one tensor at a time, by byte range. The file is untrusted: see docs/reliability.md for what is checked.
import { FormatError, printable, type ByteSource } from './byte-source.ts';

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian

export enum GgufValueType {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7, STRING = 8,
  ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
}

/** GGML tensor types by their numeric id in the file. Only some have codecs; the rest are named for errors. */
export const GGML_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K',
  12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S',
  20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64',
  29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0', 35: 'TQ2_0',
};

/**
 * Block geometry per type: elements per block and bytes per block (F32/F16/BF16 are "blocks" of one), from ggml's
 * block structs. Every named type has one, so a file with a type qgpu cannot run still parses and fails later, at
 * `assertSupportedType`, with a message naming the type instead of an unparseable tensor table.
 */
const BLOCK_GEOMETRY: Readonly<Record<number, readonly [elements: number, bytes: number]>> = {
  0: [1, 4], 1: [1, 2], 30: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34], 9: [32, 36],
  10: [256, 84], 11: [256, 110], 12: [256, 144], 13: [256, 176], 14: [256, 210], 15: [256, 292],
  16: [256, 66], 17: [256, 74], 18: [256, 98], 19: [256, 50], 20: [32, 18], 21: [256, 110], 22: [256, 82],
  23: [256, 136], 29: [256, 56], 34: [256, 54], 35: [256, 66],
  24: [1, 1], 25: [1, 2], 26: [1, 4], 27: [1, 8], 28: [1, 8],
};

export type GgufScalar = number | bigint | boolean | string;
export type GgufValue = GgufScalar | GgufScalar[] | GgufValue[];

export interface GgufTensorInfo {
  readonly name: string;
  /** GGML dims, innermost first (ne[0] = columns of a row-major matrix). */
  readonly ne: readonly number[];
  readonly typeId: number;
  readonly typeName: string;
  /** Absolute offset of the tensor data in the file. */
  readonly byteOffset: number;
  readonly byteLength: number;
  readonly elementCount: number;
}

export interface GgufFile {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  readonly dataOffset: number;
  readonly source: ByteSource;
}

/**
 * Bounds on what a header may make the reader allocate. The first bound is the file size (every count and length is
 * checked against the bytes that remain before anything is allocated for it); these caps add a ceiling for
 * multi-GiB files, far above any real model: the largest vocabularies (256k tokens, merges and scores) make headers
 * of tens of MiB, an embedded tokenizer.json is at most a few tens of MiB, and ggml itself caps tensor dims at 4.
 */
export const GGUF_LIMITS = {
  /** Metadata plus tensor infos. */
  maxHeaderBytes: 256 << 20,
  /** One string (key, value, array element or tensor name). */
  maxStringBytes: 64 << 20,
  /**
   * Array elements in the whole header. A u8 element takes one byte of the file but ~8 bytes as a JS value, so this
   * budget, not the file size, bounds the memory of numeric arrays (2^25 elements: 64x a 256k vocabulary's arrays).
   */
  maxArrayElements: 1 << 25,
  maxDims: 4,
  /** general.alignment: a power of two, at least 8 (the GGUF spec requires a multiple of 8). */
  maxAlignment: 1 << 16,
} as const;

// Large enough that most headers (vocab arrays included) take one or two reads, small enough not to pull in weights.
const HEADER_CHUNK_BYTES = 256 << 10;

/** Smallest encoding of one metadata value per type (a string is its 8-byte length; an array its type and count). */
const VALUE_MIN_BYTES: Readonly<Record<number, number>> = {
  [GgufValueType.UINT8]: 1, [GgufValueType.INT8]: 1, [GgufValueType.BOOL]: 1, [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2, [GgufValueType.UINT32]: 4, [GgufValueType.INT32]: 4, [GgufValueType.FLOAT32]: 4,
  [GgufValueType.UINT64]: 8, [GgufValueType.INT64]: 8, [GgufValueType.FLOAT64]: 8, [GgufValueType.STRING]: 8,
  [GgufValueType.ARRAY]: 12,
};
/** key length (8) + value type (4) + smallest value (1). */
const KV_MIN_BYTES = 13;
/** name length (8) + n_dims (4) + one dim (8) + type (4) + offset (8). */
const TENSOR_INFO_MIN_BYTES = 32;

/**
 * A forward-only cursor over the front of the file. `need(n)` makes sure the next n bytes are buffered (fetching
 * at least `HEADER_CHUNK_BYTES` at a time) after checking that they exist; the readers are synchronous, so a long
 * array of numbers is decoded in one loop rather than one await per element.
 */
class Cursor {
  private buffer: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.buffer.buffer);
  private bufferStart = 0;
  offset = 0;
  private readonly decoder = new TextDecoder('utf-8');
  /** What is left of GGUF_LIMITS.maxArrayElements. */
  arrayElementsLeft: number = GGUF_LIMITS.maxArrayElements;

  constructor(private readonly source: ByteSource) {}

  get remaining(): number {
    return this.source.byteLength - this.offset;
  }

  /** Resolves at once when the bytes are already buffered (the common case), so callers may skip the await. */
  need(byteLength: number, what: string): Promise<void> | undefined {
    const end = this.offset + byteLength;
    if (end > this.source.byteLength) {
      throw new FormatError(`${this.source.name}: truncated GGUF: ${what} needs bytes up to ${end}, the file has ${this.source.byteLength}`, 'truncated');
    }
    if (end > GGUF_LIMITS.maxHeaderBytes) {
      throw new FormatError(`${this.source.name}: GGUF header is larger than ${GGUF_LIMITS.maxHeaderBytes} bytes (at ${what})`, 'limit');
    }
    if (this.offset >= this.bufferStart && end <= this.bufferStart + this.buffer.byteLength) return undefined;
    return this.fill(byteLength);
  }

  private async fill(byteLength: number): Promise<void> {
    const readLength = Math.min(Math.max(byteLength, HEADER_CHUNK_BYTES), this.source.byteLength - this.offset);
    const bytes = await this.source.read(this.offset, readLength);
    if (bytes.byteLength !== readLength) {
      throw new FormatError(`${this.source.name}: short read at byte ${this.offset} (${bytes.byteLength} of ${readLength} bytes)`, 'io');
    }
    this.buffer = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.bufferStart = this.offset;
  }

  /** Position in the buffer of the next `byteLength` bytes, which `need` must have covered; advances past them. */
  private take(byteLength: number): number {
    const at = this.offset - this.bufferStart;
    this.offset += byteLength;
    return at;
  }

  u8() { return this.view.getUint8(this.take(1)); }
  i8() { return this.view.getInt8(this.take(1)); }
  u16() { return this.view.getUint16(this.take(2), true); }
  i16() { return this.view.getInt16(this.take(2), true); }
  u32() { return this.view.getUint32(this.take(4), true); }
  i32() { return this.view.getInt32(this.take(4), true); }
  f32() { return this.view.getFloat32(this.take(4), true); }
  f64() { return this.view.getFloat64(this.take(8), true); }
  u64big() { return this.view.getBigUint64(this.take(8), true); }
  i64big() { return this.view.getBigInt64(this.take(8), true); }

  /** A u64 count or length that must be a safe integer no larger than `max`. */
  async u64(what: string, max: number): Promise<number> {
    await this.need(8, what);
    const v = this.u64big();
    if (v > BigInt(max)) {
      throw new FormatError(`${this.source.name}: ${what} ${v} is larger than ${max === Number.MAX_SAFE_INTEGER ? 'a safe integer' : `the file can hold (${max})`}`, 'limit');
    }
    return Number(v);
  }

  async u32At(what: string): Promise<number> {
    await this.need(4, what);
    return this.u32();
  }

  /**
   * The next string if its length and bytes are already buffered (the common case inside a vocabulary array), else
   * undefined with the cursor unmoved, and the caller takes the checked async path ({@link string}).
   */
  bufferedString(): string | undefined {
    const at = this.offset - this.bufferStart;
    if (at < 0 || at + 8 > this.buffer.byteLength) return undefined;
    const length64 = this.view.getBigUint64(at, true);
    if (length64 > BigInt(Math.min(this.buffer.byteLength - at - 8, GGUF_LIMITS.maxStringBytes))) return undefined;
    const length = Number(length64);
    this.offset += 8 + length;
    return this.decode(at + 8, length);
  }

  private decode(at: number, length: number): string {
    // Short ASCII strings (most tokens and keys) skip TextDecoder, which dominates header parsing otherwise.
    if (length <= 32) {
      let text = '';
      for (let i = at; i < at + length; i++) {
        const b = this.buffer[i]!;
        if (b >= 0x80) return this.decoder.decode(this.buffer.subarray(at, at + length));
        text += String.fromCharCode(b);
      }
      return text;
    }
    return this.decoder.decode(this.buffer.subarray(at, at + length));
  }

  /** A string whose length is checked against the bytes left in the file before a single byte is fetched for it. */
  async string(what: string): Promise<string> {
    const pending = this.need(8, `length of ${what}`);
    if (pending) await pending;
    const length64 = this.u64big();
    if (length64 > BigInt(Math.min(this.remaining, GGUF_LIMITS.maxStringBytes))) {
      const why = length64 > BigInt(this.remaining) ? `only ${this.remaining} bytes remain in the file` : `the limit is ${GGUF_LIMITS.maxStringBytes}`;
      throw new FormatError(`${this.source.name}: ${what} claims ${length64} bytes but ${why}`, 'limit');
    }
    const length = Number(length64);
    const body = this.need(length, what);
    if (body) await body;
    return this.decode(this.take(length), length);
  }
}

function valueTypeName(type: number): string {
  return GgufValueType[type] ?? `#${type}`;
}

/** One scalar; `need` must already cover it (all fixed-size types) except for strings, which fetch their own bytes. */
function readFixed(c: Cursor, type: number, key: string, name: string): GgufScalar {
  switch (type) {
    case GgufValueType.UINT8: return c.u8();
    case GgufValueType.INT8: return c.i8();
    case GgufValueType.UINT16: return c.u16();
    case GgufValueType.INT16: return c.i16();
    case GgufValueType.UINT32: return c.u32();
    case GgufValueType.INT32: return c.i32();
    case GgufValueType.FLOAT32: return c.f32();
    case GgufValueType.FLOAT64: return c.f64();
    case GgufValueType.UINT64: return narrow(c.u64big());
    case GgufValueType.INT64: return narrow(c.i64big());
    case GgufValueType.BOOL: {
      const b = c.u8();
      if (b > 1) throw new FormatError(`${name}: metadata ${printable(key)} has invalid bool byte ${b}`, 'bad_value');
      return b === 1;
    }
    default:
      throw new FormatError(`${name}: metadata ${printable(key)} has unknown value type ${type}`, 'bad_value');
  }
}

async function readValue(c: Cursor, type: number, key: string, name: string): Promise<GgufValue> {
  if (type === GgufValueType.STRING) return c.string(`the value of ${printable(key)}`);
  if (type !== GgufValueType.ARRAY) {
    const size = VALUE_MIN_BYTES[type];
    if (size === undefined) throw new FormatError(`${name}: metadata ${printable(key)} has unknown value type ${type}`, 'bad_value');
    await c.need(size, `the value of ${printable(key)}`);
    return readFixed(c, type, key, name);
  }
  const label = printable(key);
  const elementType = await c.u32At(`the element type of ${label}`);
  // llama.cpp does not read nested arrays either; refusing them also keeps the recursion depth at one.
  if (elementType === GgufValueType.ARRAY) throw new FormatError(`${name}: metadata ${printable(key)} is a nested array, which GGUF readers do not support`, 'bad_value');
  const elementBytes = VALUE_MIN_BYTES[elementType];
  if (elementBytes === undefined) throw new FormatError(`${name}: metadata ${printable(key)} is an array of unknown value type ${elementType}`, 'bad_value');
  // Every element takes at least elementBytes of the file, so the count is bounded before the array is allocated.
  const length = await c.u64(`length of array ${label} (${valueTypeName(elementType)})`, Math.floor(c.remaining / elementBytes));
  if (length > c.arrayElementsLeft) {
    throw new FormatError(`${name}: array ${label} of ${length} elements exceeds what is left of the header's budget of ${GGUF_LIMITS.maxArrayElements} array elements`, 'limit');
  }
  c.arrayElementsLeft -= length;
  const out: GgufScalar[] = new Array<GgufScalar>(length);
  if (elementType === GgufValueType.STRING) {
    for (let i = 0; i < length; i++) out[i] = c.bufferedString() ?? await c.string(`element ${i} of ${label}`);
  } else {
    await c.need(length * elementBytes, `array ${printable(key)}`);
    for (let i = 0; i < length; i++) out[i] = readFixed(c, elementType, key, name);
  }
  return out;
}

/** 64-bit integers become numbers when exact, bigint otherwise. */
function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Product of dims, or undefined when it is not a safe integer (checked before each multiplication). */
function safeProduct(dims: readonly number[]): number | undefined {
  let product = 1;
  for (const d of dims) {
    if (d !== 0 && product > Math.floor(Number.MAX_SAFE_INTEGER / d)) return undefined;
    product *= d;
  }
  return product;
}

function readAlignment(metadata: ReadonlyMap<string, GgufValue>, name: string): number {
  const value = metadata.get('general.alignment');
  if (value === undefined) return 32;
  const alignment = typeof value === 'number' ? value : NaN;
  // A power of two (as llama.cpp requires) that is also a multiple of 8 (as the GGUF spec requires).
  if (!Number.isInteger(alignment) || alignment < 8 || alignment > GGUF_LIMITS.maxAlignment || (alignment & (alignment - 1)) !== 0) {
    throw new FormatError(`${name}: invalid general.alignment ${String(value)} (must be a power of two from 8 to ${GGUF_LIMITS.maxAlignment})`, 'bad_value');
  }
  return alignment;
}

/**
 * Parses the header of a GGUF file (v2 or v3, which share a layout) and validates it against the file size:
 * counts and lengths before allocating, dims and types, and every tensor's data range (aligned, inside the file,
 * not overlapping another). Reads no tensor data. Every failure is a one-line {@link FormatError} with a code.
 */
export async function readGguf(source: ByteSource): Promise<GgufFile> {
  const name = source.name;
  if (source.byteLength < 4) throw new FormatError(`${name}: not a GGUF file (only ${source.byteLength} bytes)`, 'bad_magic');
  const c = new Cursor(source);
  await c.need(4, 'the magic');
  const magic = c.u32();
  if (magic !== GGUF_MAGIC) throw new FormatError(`${name}: not a GGUF file (bad magic)`, 'bad_magic');
  await c.need(4, 'the version');
  const version = c.u32();
  if (version !== 2 && version !== 3) throw new FormatError(`${name}: unsupported GGUF version ${version} (qgpu reads v2 and v3)`, 'unsupported_version');
  await c.need(16, 'the tensor and metadata counts');
  const tensorCount64 = c.u64big();
  const kvCount64 = c.u64big();
  // Bounded by the bytes left: the smallest key/value and tensor info take KV_MIN_BYTES and TENSOR_INFO_MIN_BYTES.
  if (kvCount64 > BigInt(Math.floor(c.remaining / KV_MIN_BYTES))) {
    throw new FormatError(`${name}: metadata count ${kvCount64} is larger than the file can hold (${c.remaining} bytes after the header)`, 'limit');
  }
  if (tensorCount64 > BigInt(Math.floor(c.remaining / TENSOR_INFO_MIN_BYTES))) {
    throw new FormatError(`${name}: tensor count ${tensorCount64} is larger than the file can hold (${c.remaining} bytes after the header)`, 'limit');
  }
  const tensorCount = Number(tensorCount64);
  const kvCount = Number(kvCount64);

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = await c.string(`metadata key #${i}`);
    if (metadata.has(key)) throw new FormatError(`${name}: duplicate metadata key ${printable(key)}`, 'duplicate');
    const type = await c.u32At(`the value type of ${printable(key)}`);
    metadata.set(key, await readValue(c, type, key, name));
  }
  const alignment = readAlignment(metadata, name);

  const raw: { name: string; ne: number[]; typeId: number; relOffset: number }[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const tensorName = await c.string(`the name of tensor #${i}`);
    if (names.has(tensorName)) throw new FormatError(`${name}: duplicate tensor ${printable(tensorName)}`, 'duplicate');
    names.add(tensorName);
    const nDims = await c.u32At(`the dims of ${printable(tensorName)}`);
    if (nDims < 1 || nDims > GGUF_LIMITS.maxDims) {
      throw new FormatError(`${name}: tensor ${printable(tensorName)} has ${nDims} dimensions (1 to ${GGUF_LIMITS.maxDims} allowed)`, 'bad_tensor');
    }
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(await c.u64(`dimension ${d} of ${printable(tensorName)}`, Number.MAX_SAFE_INTEGER));
    const typeId = await c.u32At(`the type of ${printable(tensorName)}`);
    const relOffset = await c.u64(`the data offset of ${printable(tensorName)}`, Number.MAX_SAFE_INTEGER);
    raw.push({ name: tensorName, ne, typeId, relOffset });
  }
  const dataOffset = Math.ceil(c.offset / alignment) * alignment;
  if (tensorCount > 0 && dataOffset > source.byteLength) {
    throw new FormatError(`${name}: truncated GGUF: the tensor data would start at byte ${dataOffset}, past the end of the file (${source.byteLength} bytes)`, 'truncated');
  }

  const tensors: GgufTensorInfo[] = raw.map((t) => {
    const where = `${name}: tensor ${printable(t.name)}`;
    const typeName = GGML_TYPE_NAMES[t.typeId] ?? `type#${t.typeId}`;
    const geometry = BLOCK_GEOMETRY[t.typeId];
    if (!geometry) throw new FormatError(`${where} has unknown tensor type ${typeName}`, 'bad_tensor');
    const [blockElements, blockBytes] = geometry;
    const elementCount = safeProduct(t.ne);
    if (elementCount === undefined) throw new FormatError(`${where} has dims [${t.ne}] whose product overflows`, 'bad_tensor');
    if (t.ne[0]! % blockElements !== 0) {
      throw new FormatError(`${where} row of ${t.ne[0]} is not a multiple of the ${typeName} block (${blockElements})`, 'bad_tensor');
    }
    const blocks = elementCount / blockElements;
    if (blocks > Math.floor(Number.MAX_SAFE_INTEGER / blockBytes)) throw new FormatError(`${where} byte size overflows`, 'bad_tensor');
    const byteLength = blocks * blockBytes;
    if (t.relOffset % alignment !== 0) throw new FormatError(`${where} data offset ${t.relOffset} is not aligned to ${alignment}`, 'out_of_bounds');
    const byteOffset = dataOffset + t.relOffset;
    if (byteOffset > source.byteLength || byteLength > source.byteLength - byteOffset) {
      throw new FormatError(`${where} data [${byteOffset}, ${byteOffset + byteLength}) lies outside the file (${source.byteLength} bytes)`, 'out_of_bounds');
    }
    return { name: t.name, ne: t.ne, typeId: t.typeId, typeName, byteOffset, byteLength, elementCount };
  });
  // Two tensors sharing bytes is corruption or an aliasing trick; llama.cpp requires them packed in order, qgpu
  // tolerates any order and padding but not overlap.
  const byOffset = tensors.filter((t) => t.byteLength > 0).sort((a, b) => a.byteOffset - b.byteOffset);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1]!;
    const cur = byOffset[i]!;
    if (cur.byteOffset < prev.byteOffset + prev.byteLength) {
      throw new FormatError(`${name}: tensor ${printable(cur.name)} data overlaps tensor ${printable(prev.name)}`, 'out_of_bounds');
    }
  }

  return { version, metadata, tensors, alignment, dataOffset, source };
}

/** Reads one tensor's raw bytes (in file layout). */
export function readTensorBytes(file: GgufFile, tensor: GgufTensorInfo): Promise<Uint8Array> {
  return file.source.read(tensor.byteOffset, tensor.byteLength);
}

/** Typed metadata access with one-line errors naming the key. */
export function metaNumber(file: GgufFile, key: string, fallback?: number): number {
  const v = file.metadata.get(key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new FormatError(`${file.source.name}: missing metadata ${printable(key)}`, 'missing');
  }
  if (typeof v !== 'number') throw new FormatError(`${file.source.name}: metadata ${printable(key)} is not a number`, 'bad_metadata');
  return v;
}

export function metaString(file: GgufFile, key: string, fallback?: string): string {
  const v = file.metadata.get(key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new FormatError(`${file.source.name}: missing metadata ${printable(key)}`, 'missing');
  }
  if (typeof v !== 'string') throw new FormatError(`${file.source.name}: metadata ${printable(key)} is not a string`, 'bad_metadata');
  return v;
}

export function metaArray(file: GgufFile, key: string): GgufValue[] | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new FormatError(`${file.source.name}: metadata ${printable(key)} is not an array`, 'bad_metadata');
  return v;
}
