// The metadata of a GGUF file with each value's GGUF type, so that a converted file keeps them exactly (the parsed
// `GgufFile.metadata` holds plain JS values, and llama.cpp rejects e.g. a u32 where it expects an f32).
import { FormatError, GgufValueType, type GgufFile, type GgufWriteValue } from '@qgpu/formats';

type ScalarTypeName = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64' | 'u64' | 'i64' | 'bool' | 'string';

const SCALAR: Readonly<Record<number, [ScalarTypeName, number]>> = {
  [GgufValueType.UINT8]: ['u8', 1], [GgufValueType.INT8]: ['i8', 1], [GgufValueType.UINT16]: ['u16', 2],
  [GgufValueType.INT16]: ['i16', 2], [GgufValueType.UINT32]: ['u32', 4], [GgufValueType.INT32]: ['i32', 4],
  [GgufValueType.FLOAT32]: ['f32', 4], [GgufValueType.FLOAT64]: ['f64', 8], [GgufValueType.UINT64]: ['u64', 8],
  [GgufValueType.INT64]: ['i64', 8], [GgufValueType.BOOL]: ['bool', 1], [GgufValueType.STRING]: ['string', 0],
};

/** Reads the key–value section again, keeping types. Nested arrays (unused by llama models) are rejected. */
export async function readTypedMetadata(file: GgufFile): Promise<Record<string, GgufWriteValue>> {
  const bytes = await file.source.read(0, file.dataOffset);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder();
  let at = 16; // magic, version, tensor count (u64)
  const u32 = () => { const v = view.getUint32(at, true); at += 4; return v; };
  const u64 = () => { const v = Number(view.getBigUint64(at, true)); at += 8; return v; };
  const str = () => { const n = u64(); const s = decoder.decode(bytes.subarray(at, at + n)); at += n; return s; };
  const scalar = (type: ScalarTypeName): number | bigint | boolean | string => {
    const o = at;
    switch (type) {
      case 'string': return str();
      case 'u8': at += 1; return view.getUint8(o);
      case 'i8': at += 1; return view.getInt8(o);
      case 'bool': at += 1; return view.getUint8(o) !== 0;
      case 'u16': at += 2; return view.getUint16(o, true);
      case 'i16': at += 2; return view.getInt16(o, true);
      case 'u32': at += 4; return view.getUint32(o, true);
      case 'i32': at += 4; return view.getInt32(o, true);
      case 'f32': at += 4; return view.getFloat32(o, true);
      case 'f64': at += 8; return view.getFloat64(o, true);
      case 'u64': at += 8; return view.getBigUint64(o, true);
      case 'i64': at += 8; return view.getBigInt64(o, true);
    }
  };
  const kvCount = Number(view.getBigUint64(16, true));
  at = 24;
  const out: Record<string, GgufWriteValue> = {};
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    const type = u32();
    if (type === GgufValueType.ARRAY) {
      const elementType = u32();
      const element = SCALAR[elementType];
      if (!element) throw new FormatError(`${file.source.name}: metadata '${key}' is a nested array, which the converter does not copy`);
      const n = u64();
      out[key] = { type: 'array', elementType: element[0], value: Array.from({ length: n }, () => scalar(element[0])) };
    } else {
      const scalarType = SCALAR[type];
      if (!scalarType) throw new FormatError(`${file.source.name}: metadata '${key}' has unknown type ${type}`);
      out[key] = { type: scalarType[0], value: scalar(scalarType[0]) } as GgufWriteValue;
    }
  }
  return out;
}
