// Hugging Face safetensors reader and writer. Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
// ({"__metadata__": {string: string}, name: {dtype, shape, data_offsets: [begin, end]}}), then the data section, with
// offsets relative to its start. Everything is validated before a single tensor byte is read, and every failure is a
// one-line FormatError naming the file and the tensor, so a corrupted or hostile file never reaches the loader.
import { FormatError, printable, type ByteSource, type FormatErrorCode } from './byte-source.ts';
import { f16ArrayToF32 } from './f16.ts';

/** Element types this reader accepts: float weights, plus integer payloads for quantized models (docs/formats.md). */
export const SAFETENSORS_DTYPE_BYTES = { F32: 4, F16: 2, BF16: 2, I32: 4, I8: 1, U8: 1 } as const;
export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_BYTES;

/**
 * Largest header accepted. The format caps it at 100 MB; real checkpoints with thousands of tensors stay under a
 * few MiB, so anything bigger is corruption, and refusing it bounds the memory a hostile file can make us allocate.
 */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;
/** Rank limit: no tensor in a transformer checkpoint has more than a handful of dims; this bounds the shape product. */
const MAX_RANK = 8;

export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  /** Shape in PyTorch order, outermost first (a Linear weight is [out_features, in_features]). */
  readonly shape: readonly number[];
  readonly elementCount: number;
  /** Absolute byte offset in the file (data section start + data_offsets[0]). */
  readonly byteOffset: number;
  readonly byteLength: number;
}

export interface SafetensorsFile {
  readonly source: ByteSource;
  /** `__metadata__` (string values only, as the format requires). */
  readonly metadata: ReadonlyMap<string, string>;
  /** Tensors in file order (sorted by offset). */
  readonly tensors: readonly SafetensorsTensorInfo[];
  readonly dataOffset: number;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and validates the header of a safetensors file (two small reads); tensor data is read later by range. */
export async function readSafetensors(source: ByteSource): Promise<SafetensorsFile> {
  const file = source.name;
  const fail = (message: string, code: FormatErrorCode): never => {
    throw new FormatError(`${file}: ${message}`, code);
  };
  if (source.byteLength < 8) fail(`not a safetensors file: ${source.byteLength} bytes is shorter than the 8-byte header length`, 'truncated');
  const lengthBytes = await source.read(0, 8);
  const view = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8);
  const headerLength64 = view.getBigUint64(0, true);
  if (headerLength64 > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) fail(`safetensors header length ${headerLength64} exceeds the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit`, 'limit');
  const headerLength = Number(headerLength64);
  if (headerLength < 2) fail(`safetensors header length ${headerLength} is too small for a JSON object`, 'bad_value');
  if (8 + headerLength > source.byteLength) fail(`safetensors header length ${headerLength} runs past the end of the file (${source.byteLength} bytes)`, 'truncated');

  let json: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(await source.read(8, headerLength));
    json = JSON.parse(text);
  } catch (error) {
    if (error instanceof FormatError) throw error;
    return fail(`safetensors header is not valid UTF-8 JSON (${error instanceof Error ? error.message : String(error)})`, 'bad_value');
  }
  if (!isRecord(json)) return fail('safetensors header is not a JSON object', 'bad_value');

  const dataOffset = 8 + headerLength;
  const dataLength = source.byteLength - dataOffset;
  const metadata = new Map<string, string>();
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isRecord(entry)) fail('__metadata__ is not an object of strings', 'bad_value');
      for (const [key, value] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof value !== 'string') fail(`__metadata__ value of ${printable(key)} is not a string`, 'bad_value');
        metadata.set(key, value as string);
      }
      continue;
    }
    const where = `tensor ${printable(name)}`;
    if (!isRecord(entry)) return fail(`${where}: entry is not an object`, 'bad_value');
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string' || !Object.hasOwn(SAFETENSORS_DTYPE_BYTES, dtype)) {
      return fail(`${where}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')})`, 'unsupported');
    }
    if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      return fail(`${where}: shape ${JSON.stringify(shape)} is not a list of at most ${MAX_RANK} non-negative integers`, 'bad_tensor');
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      return fail(`${where}: data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`, 'bad_tensor');
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`, 'bad_tensor');
    if (end > dataLength) fail(`${where}: data_offsets [${begin}, ${end}] run past the data section (${dataLength} bytes)`, 'out_of_bounds');
    // The span bounds the product, so no overflow: stop as soon as the running product exceeds it.
    let elementCount = 1;
    for (const d of shape as number[]) {
      elementCount *= d;
      if (elementCount > end - begin) break;
    }
    const bytesPerElement = SAFETENSORS_DTYPE_BYTES[dtype as SafetensorsDtype];
    if (elementCount * bytesPerElement !== end - begin) {
      fail(`${where}: shape [${(shape as number[]).join(', ')}] × ${dtype} (${bytesPerElement} B) does not match its ${end - begin}-byte span`, 'bad_tensor');
    }
    tensors.push({
      name, dtype: dtype as SafetensorsDtype, shape: shape as number[], elementCount,
      byteOffset: dataOffset + begin, byteLength: end - begin,
    });
  }
  tensors.sort((a, b) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength);
  // The spec requires the data section to be fully covered without holes or overlap; holes are tolerated (some
  // writers pad) but overlap is not, since two tensors sharing bytes is either corruption or an aliasing trick.
  for (let i = 1; i < tensors.length; i++) {
    const prev = tensors[i - 1]!;
    const cur = tensors[i]!;
    if (cur.byteOffset < prev.byteOffset + prev.byteLength) {
      fail(`tensor ${printable(cur.name)} overlaps tensor ${printable(prev.name)} in the data section`, 'out_of_bounds');
    }
  }
  return { source, metadata, tensors, dataOffset };
}

/** Finds a tensor by name, or throws a FormatError naming it. */
export function safetensorsTensor(file: SafetensorsFile, name: string): SafetensorsTensorInfo {
  const t = file.tensors.find((x) => x.name === name);
  if (!t) throw new FormatError(`${file.source.name}: missing tensor ${printable(name)}`, 'missing');
  return t;
}

/** One range read of a tensor's raw little-endian bytes. */
export function readSafetensorsBytes(file: SafetensorsFile, tensor: SafetensorsTensorInfo): Promise<Uint8Array> {
  return file.source.read(tensor.byteOffset, tensor.byteLength);
}

/** bfloat16 bits → float32: the top half of an f32, so exact (NaN payloads included). */
export function bf16ArrayToF32(bits: Uint16Array): Float32Array<ArrayBuffer> {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i]! << 16;
  return new Float32Array(out.buffer);
}

/** float32 → bfloat16 bits, round to nearest even (NaN stays a quiet NaN). For writers of test models. */
export function f32ArrayToBf16(values: Float32Array): Uint16Array<ArrayBuffer> {
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = words[i]!;
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) out[i] = (x >>> 16) | 0x40;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** A float tensor (F32, F16 or BF16) as float32 values; integer dtypes are refused (they are quantized payloads). */
export function safetensorsToF32(tensor: SafetensorsTensorInfo, bytes: Uint8Array, fileName = 'safetensors'): Float32Array<ArrayBuffer> {
  if (bytes.byteLength !== tensor.byteLength) throw new FormatError(`${fileName}: tensor '${tensor.name}' read ${bytes.byteLength} bytes, expected ${tensor.byteLength}`, 'io');
  const copy = bytes.slice().buffer;
  switch (tensor.dtype) {
    case 'F32': return new Float32Array(copy);
    case 'BF16': return bf16ArrayToF32(new Uint16Array(copy));
    case 'F16': {
      return f16ArrayToF32(new Uint16Array(copy));
    }
    default:
      throw new FormatError(`${fileName}: tensor '${tensor.name}' has dtype ${tensor.dtype}, not a float type`, 'unsupported');
  }
}

/** A tensor to write: raw little-endian data matching dtype and shape. */
export interface SafetensorsTensorInput {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: Uint8Array | Float32Array | Uint16Array | Int32Array | Int8Array;
}

/**
 * Serializes tensors into a safetensors file, in the order given, each tensor's offset aligned to 8 bytes (the
 * header is space-padded so the data section starts 8-aligned, as the reference implementation does).
 * @throws FormatError if a tensor's byte size disagrees with its shape and dtype, or a name repeats.
 */
export function writeSafetensors(tensors: readonly SafetensorsTensorInput[], metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  const ALIGN = 8;
  let offset = 0;
  const placed: { bytes: Uint8Array; at: number }[] = [];
  for (const t of tensors) {
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name)) throw new FormatError(`writeSafetensors: duplicate or reserved tensor name '${t.name}'`, 'duplicate');
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (elements * SAFETENSORS_DTYPE_BYTES[t.dtype] !== bytes.byteLength) {
      throw new FormatError(`writeSafetensors: tensor '${t.name}' has ${bytes.byteLength} bytes but shape [${t.shape.join(', ')}] × ${t.dtype} needs ${elements * SAFETENSORS_DTYPE_BYTES[t.dtype]}`, 'bad_tensor');
    }
    offset = Math.ceil(offset / ALIGN) * ALIGN;
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.byteLength] };
    placed.push({ bytes, at: offset });
    offset += bytes.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.byteLength) / ALIGN) * ALIGN - 8;
  if (padded !== json.byteLength) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(json);
    json = withSpaces;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  for (const { bytes, at } of placed) out.set(bytes, 8 + json.byteLength + at);
  return out;
}
