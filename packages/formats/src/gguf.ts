// GGUF v2/v3 reader (v1, which llama.cpp itself no longer reads, is rejected): header, metadata (every value type, arrays included) and tensor infos are parsed from the
// front of the file through a chunked cursor; tensor data is read later, one tensor at a time, by byte range.
import { FormatError, type ByteSource } from './byte-source.ts';

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

/** Block geometry per type: elements per block and bytes per block (F32/F16/BF16 are "blocks" of one). */
const BLOCK_GEOMETRY: Readonly<Record<number, readonly [elements: number, bytes: number]>> = {
  0: [1, 4], 1: [1, 2], 30: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34], 9: [32, 36],
  10: [256, 84], 11: [256, 110], 12: [256, 144], 13: [256, 176], 14: [256, 210], 15: [256, 292],
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

// Large enough that most headers (vocab arrays included) take one or two reads, small enough not to pull in weights.
const HEADER_CHUNK_BYTES = 256 << 10;
/** Guards against absurd counts in corrupted headers before anything is allocated for them. */
const MAX_COUNT = 1 << 28;

/** A forward-only cursor over the file that fetches `HEADER_CHUNK_BYTES` at a time. */
class Cursor {
  private buffer: Uint8Array = new Uint8Array(0);
  private bufferStart = 0;
  offset = 0;
  private readonly decoder = new TextDecoder('utf-8');

  constructor(private readonly source: ByteSource) {}

  private async ensure(byteLength: number): Promise<DataView> {
    const end = this.offset + byteLength;
    if (end > this.source.byteLength) {
      throw new FormatError(`${this.source.name}: truncated GGUF header (needs byte ${end}, file has ${this.source.byteLength})`);
    }
    if (this.offset < this.bufferStart || end > this.bufferStart + this.buffer.byteLength) {
      const readLength = Math.min(Math.max(byteLength, HEADER_CHUNK_BYTES), this.source.byteLength - this.offset);
      this.buffer = await this.source.read(this.offset, readLength);
      this.bufferStart = this.offset;
    }
    const at = this.offset - this.bufferStart;
    this.offset = end;
    return new DataView(this.buffer.buffer, this.buffer.byteOffset + at, byteLength);
  }

  async u8() { return (await this.ensure(1)).getUint8(0); }
  async i8() { return (await this.ensure(1)).getInt8(0); }
  async u16() { return (await this.ensure(2)).getUint16(0, true); }
  async i16() { return (await this.ensure(2)).getInt16(0, true); }
  async u32() { return (await this.ensure(4)).getUint32(0, true); }
  async i32() { return (await this.ensure(4)).getInt32(0, true); }
  async f32() { return (await this.ensure(4)).getFloat32(0, true); }
  async f64() { return (await this.ensure(8)).getFloat64(0, true); }
  async u64big() { return (await this.ensure(8)).getBigUint64(0, true); }
  async i64big() { return (await this.ensure(8)).getBigInt64(0, true); }
  /** A u64 that must be a safe JS integer (counts, lengths, offsets). */
  async u64(what: string): Promise<number> {
    const v = await this.u64big();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`${this.source.name}: ${what} is too large (${v})`);
    return Number(v);
  }
  async count(what: string): Promise<number> {
    const n = await this.u64(what);
    if (n > MAX_COUNT) throw new FormatError(`${this.source.name}: ${what} ${n} is implausibly large`);
    return n;
  }
  async string(): Promise<string> {
    const length = await this.count('string length');
    const view = await this.ensure(length);
    return this.decoder.decode(new Uint8Array(view.buffer, view.byteOffset, length));
  }
}

async function readValue(c: Cursor, type: number, key: string, name: string): Promise<GgufValue> {
  switch (type) {
    case GgufValueType.UINT8: return c.u8();
    case GgufValueType.INT8: return c.i8();
    case GgufValueType.UINT16: return c.u16();
    case GgufValueType.INT16: return c.i16();
    case GgufValueType.UINT32: return c.u32();
    case GgufValueType.INT32: return c.i32();
    case GgufValueType.FLOAT32: return c.f32();
    case GgufValueType.FLOAT64: return c.f64();
    case GgufValueType.BOOL: {
      const b = await c.u8();
      if (b > 1) throw new FormatError(`${name}: metadata '${key}' has invalid bool byte ${b}`);
      return b === 1;
    }
    case GgufValueType.STRING: return c.string();
    case GgufValueType.UINT64: return narrow(await c.u64big());
    case GgufValueType.INT64: return narrow(await c.i64big());
    case GgufValueType.ARRAY: {
      const elementType = await c.u32();
      const length = await c.count(`length of array '${key}'`);
      const out: GgufValue[] = new Array(length);
      for (let i = 0; i < length; i++) out[i] = await readValue(c, elementType, key, name);
      return out as GgufValue;
    }
    default:
      throw new FormatError(`${name}: metadata '${key}' has unknown value type ${type}`);
  }
}

/** 64-bit integers become numbers when exact, bigint otherwise. */
function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Parses the header of a GGUF file (v2 or v3, which share a layout). Reads no tensor data. */
export async function readGguf(source: ByteSource): Promise<GgufFile> {
  const name = source.name;
  if (source.byteLength < 8) throw new FormatError(`${name}: not a GGUF file (only ${source.byteLength} bytes)`);
  const c = new Cursor(source);
  const magic = await c.u32();
  if (magic !== GGUF_MAGIC) throw new FormatError(`${name}: not a GGUF file (bad magic)`);
  const version = await c.u32();
  if (version !== 2 && version !== 3) throw new FormatError(`${name}: unsupported GGUF version ${version} (qgpu reads v2 and v3)`);
  const tensorCount = await c.count('tensor count');
  const kvCount = await c.count('metadata count');

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = await c.string();
    const type = await c.u32();
    metadata.set(key, await readValue(c, type, key, name));
  }

  const alignmentValue = metadata.get('general.alignment') ?? 32;
  const alignment = typeof alignmentValue === 'number' ? alignmentValue : NaN;
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) {
    throw new FormatError(`${name}: invalid general.alignment ${String(alignmentValue)}`);
  }

  const raw: { name: string; ne: number[]; typeId: number; relOffset: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const tensorName = await c.string();
    const nDims = await c.u32();
    if (nDims < 1 || nDims > 4) throw new FormatError(`${name}: tensor '${tensorName}' has ${nDims} dimensions`);
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(await c.u64(`dimension of '${tensorName}'`));
    const typeId = await c.u32();
    const relOffset = await c.u64(`offset of '${tensorName}'`);
    raw.push({ name: tensorName, ne, typeId, relOffset });
  }
  const dataOffset = Math.ceil(c.offset / alignment) * alignment;

  const tensors: GgufTensorInfo[] = raw.map((t) => {
    const typeName = GGML_TYPE_NAMES[t.typeId] ?? `type#${t.typeId}`;
    const geometry = BLOCK_GEOMETRY[t.typeId];
    if (!geometry) throw new FormatError(`${name}: tensor '${t.name}' has unknown tensor type ${typeName}`);
    const elementCount = t.ne.reduce((a, b) => a * b, 1);
    const [blockElements, blockBytes] = geometry;
    if ((t.ne[0] ?? 0) % blockElements !== 0) {
      throw new FormatError(`${name}: tensor '${t.name}' row of ${t.ne[0]} is not a multiple of the ${typeName} block (${blockElements})`);
    }
    if (t.relOffset % alignment !== 0) throw new FormatError(`${name}: tensor '${t.name}' offset is not aligned to ${alignment}`);
    const byteLength = (elementCount / blockElements) * blockBytes;
    const byteOffset = dataOffset + t.relOffset;
    if (!Number.isSafeInteger(byteLength) || byteOffset + byteLength > source.byteLength) {
      throw new FormatError(`${name}: tensor '${t.name}' data [${byteOffset}, ${byteOffset + byteLength}) lies outside the file (${source.byteLength} bytes)`);
    }
    return { name: t.name, ne: t.ne, typeId: t.typeId, typeName, byteOffset, byteLength, elementCount };
  });

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
    throw new FormatError(`${file.source.name}: missing metadata '${key}'`);
  }
  if (typeof v !== 'number') throw new FormatError(`${file.source.name}: metadata '${key}' is not a number`);
  return v;
}

export function metaString(file: GgufFile, key: string, fallback?: string): string {
  const v = file.metadata.get(key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new FormatError(`${file.source.name}: missing metadata '${key}'`);
  }
  if (typeof v !== 'string') throw new FormatError(`${file.source.name}: metadata '${key}' is not a string`);
  return v;
}

export function metaArray(file: GgufFile, key: string): GgufValue[] | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new FormatError(`${file.source.name}: metadata '${key}' is not an array`);
  return v;
}
