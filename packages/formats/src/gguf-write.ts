// A small GGUF v3 writer for tests and fixture generation (seeded random-weight models, malformed-file cases).
import { GGUF_MAGIC, GgufValueType } from './gguf.ts';

export type GgufWriteValue =
  | { type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64' | 'u64' | 'i64'; value: number | bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; elementType: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64' | 'u64' | 'i64' | 'bool' | 'string'; value: (number | bigint | boolean | string)[] };

export interface GgufWriteTensor {
  name: string;
  ne: number[];
  /** GGML type id (0 = F32, 1 = F16). */
  typeId: number;
  data: Uint8Array;
}

const TYPE_IDS = {
  u8: GgufValueType.UINT8, i8: GgufValueType.INT8, u16: GgufValueType.UINT16, i16: GgufValueType.INT16,
  u32: GgufValueType.UINT32, i32: GgufValueType.INT32, f32: GgufValueType.FLOAT32, f64: GgufValueType.FLOAT64,
  u64: GgufValueType.UINT64, i64: GgufValueType.INT64, bool: GgufValueType.BOOL, string: GgufValueType.STRING,
  array: GgufValueType.ARRAY,
} as const;

class Writer {
  private chunks: Uint8Array[] = [];
  length = 0;
  private readonly encoder = new TextEncoder();
  push(bytes: Uint8Array) { this.chunks.push(bytes); this.length += bytes.byteLength; }
  private view(n: number, fill: (v: DataView) => void) { const b = new Uint8Array(n); fill(new DataView(b.buffer)); this.push(b); }
  u32(v: number) { this.view(4, (d) => d.setUint32(0, v, true)); }
  u64(v: number | bigint) { this.view(8, (d) => d.setBigUint64(0, BigInt(v), true)); }
  string(s: string) { const b = this.encoder.encode(s); this.u64(b.byteLength); this.push(b); }
  scalar(type: keyof typeof TYPE_IDS, v: number | bigint | boolean | string) {
    switch (type) {
      case 'u8': return this.view(1, (d) => d.setUint8(0, Number(v)));
      case 'i8': return this.view(1, (d) => d.setInt8(0, Number(v)));
      case 'u16': return this.view(2, (d) => d.setUint16(0, Number(v), true));
      case 'i16': return this.view(2, (d) => d.setInt16(0, Number(v), true));
      case 'u32': return this.view(4, (d) => d.setUint32(0, Number(v), true));
      case 'i32': return this.view(4, (d) => d.setInt32(0, Number(v), true));
      case 'f32': return this.view(4, (d) => d.setFloat32(0, Number(v), true));
      case 'f64': return this.view(8, (d) => d.setFloat64(0, Number(v), true));
      case 'u64': return this.view(8, (d) => d.setBigUint64(0, BigInt(v), true));
      case 'i64': return this.view(8, (d) => d.setBigInt64(0, BigInt(v), true));
      case 'bool': return this.view(1, (d) => d.setUint8(0, v ? 1 : 0));
      case 'string': return this.string(String(v));
      case 'array': throw new Error('nested arrays are written through value()');
    }
  }
  pad(alignment: number) { const rem = this.length % alignment; if (rem) this.push(new Uint8Array(alignment - rem)); }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) { out.set(c, at); at += c.byteLength; }
    return out;
  }
}

/** A tensor's header entry: its data length decides the next tensor's offset. */
export interface GgufTensorHeader {
  name: string;
  ne: number[];
  typeId: number;
  byteLength: number;
}

/**
 * The bytes of a GGUF v3 file before its tensor data (magic, metadata, tensor infos, padding to `alignment`); the
 * data follows, each tensor padded to `alignment`. Lets large files be written tensor by tensor (bench/synth.ts).
 */
export function ggufHeader(metadata: Record<string, GgufWriteValue>, tensors: readonly GgufTensorHeader[], alignment = 32): Uint8Array {
  const w = new Writer();
  w.u32(GGUF_MAGIC);
  w.u32(3);
  w.u64(tensors.length);
  w.u64(Object.keys(metadata).length);
  for (const [key, entry] of Object.entries(metadata)) {
    w.string(key);
    w.u32(TYPE_IDS[entry.type]);
    if (entry.type === 'array') {
      w.u32(TYPE_IDS[entry.elementType]);
      w.u64(entry.value.length);
      for (const v of entry.value) w.scalar(entry.elementType, v);
    } else {
      w.scalar(entry.type, entry.value);
    }
  }
  let relOffset = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.ne.length);
    for (const d of t.ne) w.u64(d);
    w.u32(t.typeId);
    w.u64(relOffset);
    relOffset += Math.ceil(t.byteLength / alignment) * alignment;
  }
  w.pad(alignment);
  return w.concat();
}

/** Serializes metadata and tensors as a GGUF v3 file, aligned to `general.alignment` (default 32). */
export function writeGguf(metadata: Record<string, GgufWriteValue>, tensors: GgufWriteTensor[], alignment = 32): Uint8Array {
  const w = new Writer();
  w.push(ggufHeader(metadata, tensors.map((t) => ({ name: t.name, ne: t.ne, typeId: t.typeId, byteLength: t.data.byteLength })), alignment));
  for (const t of tensors) { w.push(t.data); w.pad(alignment); }
  return w.concat();
}
