// Hand-built safetensors files: the writer's output read back, byte layouts checked against the spec by hand, and
// every validation error produced by a file crafted to break exactly one rule.
import { describe, expect, it } from 'vitest';
import { bytesSource, FormatError } from './byte-source.ts';
import {
  bf16ArrayToF32, f32ArrayToBf16, readSafetensors, readSafetensorsBytes, safetensorsTensor, safetensorsToF32, writeSafetensors,
} from './safetensors.ts';
import { findQuantizedLinear, packCodes, QUANT_KEYS, readQuantHeader, unpackCodes } from './safetensors-quant.ts';

/** A file from a header object and a data section, exactly as given (no validation, no alignment). */
function handBuilt(header: unknown, data: Uint8Array = new Uint8Array(0), headerText = JSON.stringify(header)): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

const read = (bytes: Uint8Array) => readSafetensors(bytesSource(bytes, 'test.safetensors'));

async function expectFormatError(bytes: Uint8Array, pattern: RegExp, code?: string) {
  const error = await read(bytes).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(FormatError);
  if (code) expect((error as FormatError).code).toBe(code);
  expect((error as Error).message).toMatch(/^test\.safetensors: /);
  expect((error as Error).message).toMatch(pattern);
}

describe('safetensors reader', () => {
  it('reads a hand-built file: offsets relative to the data section, shapes, metadata', async () => {
    const data = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
    // b: 2 F32 at data bytes [16, 24); a: 4 F32 at [0, 16) — listed out of order on purpose.
    const bytes = handBuilt({
      b: { dtype: 'F32', shape: [2], data_offsets: [16, 24] },
      __metadata__: { format: 'pt' },
      a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
    }, data);
    const file = await read(bytes);
    expect(file.metadata.get('format')).toBe('pt');
    expect(file.tensors.map((t) => t.name)).toEqual(['a', 'b']);
    const a = safetensorsTensor(file, 'a');
    expect(a.shape).toEqual([2, 2]);
    expect(a.byteOffset).toBe(file.dataOffset);
    expect(Array.from(safetensorsToF32(a, await readSafetensorsBytes(file, a)))).toEqual([1, 2, 3, 4]);
    const b = safetensorsTensor(file, 'b');
    expect(Array.from(safetensorsToF32(b, await readSafetensorsBytes(file, b)))).toEqual([5, 6]);
    await expect(Promise.resolve().then(() => safetensorsTensor(file, 'c'))).rejects.toThrow(/missing tensor 'c'/);
  });

  it('round-trips the writer for every dtype; data section and offsets are 8-byte aligned', async () => {
    const f32 = new Float32Array([0.5, -1.25, 3]);
    const f16 = new Uint16Array([0x3c00, 0xc000]); // 1, -2
    const bf16 = f32ArrayToBf16(new Float32Array([1.5, -0.09375]));
    const bytes = writeSafetensors([
      { name: 'w.f32', dtype: 'F32', shape: [3], data: f32 },
      { name: 'w.f16', dtype: 'F16', shape: [1, 2], data: f16 },
      { name: 'w.bf16', dtype: 'BF16', shape: [2], data: bf16 },
      { name: 'q.u8', dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 255]) },
      { name: 'q.i8', dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) },
      { name: 'q.i32', dtype: 'I32', shape: [1], data: new Int32Array([-7]) },
    ], { [QUANT_KEYS.version]: '1' });
    const file = await read(bytes);
    expect(file.dataOffset % 8).toBe(0);
    for (const t of file.tensors) expect((t.byteOffset - file.dataOffset) % 8).toBe(0);
    const values = async (name: string) => {
      const t = safetensorsTensor(file, name);
      return Array.from(safetensorsToF32(t, await readSafetensorsBytes(file, t)));
    };
    expect(await values('w.f32')).toEqual([0.5, -1.25, 3]);
    expect(await values('w.f16')).toEqual([1, -2]);
    expect(await values('w.bf16')).toEqual([1.5, -0.09375]);
    const i8 = safetensorsTensor(file, 'q.i8');
    expect(Array.from(new Int8Array((await readSafetensorsBytes(file, i8)).slice().buffer))).toEqual([-128, 127]);
    expect(() => safetensorsToF32(i8, new Uint8Array(2))).toThrow(FormatError);
    expect(file.metadata.get(QUANT_KEYS.version)).toBe('1');
  });

  it('converts BF16 exactly and rounds f32 → bf16 to nearest even', () => {
    // 0x3F80 = 1.0, 0xC049 = -3.140625, 0x7F80 = +inf, 0x0001 = smallest subnormal 2^-133.
    expect(Array.from(bf16ArrayToF32(new Uint16Array([0x3f80, 0xc049, 0x7f80, 0x0001])))).toEqual([1, -3.140625, Infinity, 2 ** -133]);
    // 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties to even → 1. 1 + 3·2^-8 ties up to 1 + 2^-6.
    expect(Array.from(f32ArrayToBf16(new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8])))).toEqual([0x3f80, 0x3f82]);
    expect(Number.isNaN(bf16ArrayToF32(f32ArrayToBf16(new Float32Array([NaN])))[0])).toBe(true);
  });

  it('reads lazily: one range read for the header length, one for the header, one per tensor', async () => {
    const bytes = writeSafetensors([
      { name: 'x', dtype: 'F32', shape: [4], data: new Float32Array(4) },
      { name: 'y', dtype: 'F32', shape: [2], data: new Float32Array(2) },
    ]);
    const inner = bytesSource(bytes, 'lazy');
    const reads: [number, number][] = [];
    const file = await readSafetensors({ ...inner, read: (o, n) => { reads.push([o, n]); return inner.read(o, n); } });
    expect(reads.length).toBe(2);
    await readSafetensorsBytes(file, safetensorsTensor(file, 'y'));
    expect(reads[2]).toEqual([safetensorsTensor(file, 'y').byteOffset, 8]);
  });

  it('refuses the writer input that disagrees with its shape, and duplicate names', () => {
    expect(() => writeSafetensors([{ name: 'a', dtype: 'F32', shape: [3], data: new Float32Array(2) }])).toThrow(/needs 12/);
    expect(() => writeSafetensors([
      { name: 'a', dtype: 'U8', shape: [1], data: new Uint8Array(1) },
      { name: 'a', dtype: 'U8', shape: [1], data: new Uint8Array(1) },
    ])).toThrow(/duplicate/);
  });
});

describe('safetensors validation errors (FormatError naming the file and tensor)', () => {
  const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  const data8 = new Uint8Array(8);

  it('rejects files shorter than the length prefix and header lengths past the end or above the limit', async () => {
    await expectFormatError(new Uint8Array(5), /shorter than the 8-byte header length/, 'truncated');
    const long = handBuilt({ a: ok }, data8);
    new DataView(long.buffer).setBigUint64(0, BigInt(long.byteLength), true);
    await expectFormatError(long, /runs past the end of the file/, 'truncated');
    new DataView(long.buffer).setBigUint64(0, 2n ** 63n, true);
    await expectFormatError(long, /exceeds the 100000000-byte limit/, 'limit');
  });

  it('rejects malformed JSON, invalid UTF-8 and non-object headers', async () => {
    await expectFormatError(handBuilt(null, data8, '{"a": {"dtype": "F32"'), /not valid UTF-8 JSON/);
    const badUtf8 = handBuilt(null, data8, '{"\u00ff": 1}');
    badUtf8[10] = 0xff; // a lone 0xFF byte is never valid UTF-8
    await expectFormatError(badUtf8, /not valid UTF-8 JSON/);
    await expectFormatError(handBuilt([1, 2]), /header is not a JSON object/);
    await expectFormatError(handBuilt({ __metadata__: { n: 1 } }), /__metadata__ value of 'n' is not a string/);
  });

  it('rejects unknown dtypes, bad shapes and bad offsets, naming the tensor', async () => {
    await expectFormatError(handBuilt({ w: { ...ok, dtype: 'F64' } }, data8), /tensor 'w': unsupported dtype "F64"/, 'unsupported');
    await expectFormatError(handBuilt({ w: { ...ok, shape: [2.5] } }, data8), /tensor 'w': shape \[2.5\]/);
    await expectFormatError(handBuilt({ w: { ...ok, shape: [-2] } }, data8), /tensor 'w': shape/);
    await expectFormatError(handBuilt({ w: { ...ok, shape: [1, 1, 1, 1, 1, 1, 1, 1, 2] } }, data8), /at most 8/);
    await expectFormatError(handBuilt({ w: { ...ok, data_offsets: [0] } }, data8), /tensor 'w': data_offsets \[0\]/);
    await expectFormatError(handBuilt({ w: { ...ok, data_offsets: [8, 0] } }, data8), /end before they begin/);
    await expectFormatError(handBuilt({ w: { ...ok, data_offsets: [0, 16] } }, data8), /tensor 'w'.*run past the data section/, 'out_of_bounds');
    await expectFormatError(handBuilt({ w: { ...ok, shape: [3] } }, data8), /tensor 'w': shape \[3\] × F32 \(4 B\) does not match its 8-byte span/);
    // A shape whose product overflows doubles must not slip through as a huge span match.
    await expectFormatError(handBuilt({ w: { ...ok, shape: [2 ** 40, 2 ** 40, 2 ** 40] } }, data8), /does not match/);
    await expectFormatError(handBuilt({ w: 'F32' }, data8), /tensor 'w': entry is not an object/, 'bad_value');
    // A hostile name cannot break the one-line message.
    await expectFormatError(handBuilt({ 'a\nb': { ...ok, dtype: 'X' } }, data8), /tensor 'a\\u000ab': unsupported/, 'unsupported');
  });

  it('rejects overlapping tensors', async () => {
    await expectFormatError(handBuilt({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
    }, data8), /tensor 'b' overlaps tensor 'a'/, 'out_of_bounds');
  });
});

describe('qgpu quantization convention', () => {
  it('packs codes LSB first with byte-aligned rows, and unpacks them back', () => {
    // 3-bit codes [5, 3, 7] in one row: bits 101 | 011<<3 | 111<<6 = 0b1_1101_1101 → bytes 0xDD, 0x01.
    expect(Array.from(packCodes([5, 3, 7], 1, 3, 3))).toEqual([0xdd, 0x01]);
    const codes = Uint8Array.from({ length: 2 * 5 }, (_, i) => (i * 7) % 16);
    expect(Array.from(unpackCodes(packCodes(codes, 2, 5, 4), 2, 5, 4))).toEqual(Array.from(codes));
    expect(() => packCodes([16], 1, 1, 4)).toThrow(RangeError);
  });

  it('finds a quantized linear and checks its parts against the header', async () => {
    const rows = 2, cols = 64, bits = 4, group = 32;
    const meta = { [QUANT_KEYS.version]: '1', [QUANT_KEYS.method]: 'sinq', [QUANT_KEYS.bits]: '4', [QUANT_KEYS.group]: '32', [QUANT_KEYS.symmetric]: 'false' };
    const parts = [
      { name: 'l.qweight', dtype: 'U8' as const, shape: [rows, cols / 2], data: new Uint8Array(rows * cols / 2) },
      { name: 'l.scales', dtype: 'F32' as const, shape: [rows, cols / group], data: new Float32Array(rows * 2) },
      { name: 'l.zeros', dtype: 'F32' as const, shape: [rows, cols / group], data: new Float32Array(rows * 2) },
      { name: 'l.col_scale', dtype: 'F32' as const, shape: [cols], data: new Float32Array(cols) },
    ];
    const file = await read(writeSafetensors(parts, meta));
    const header = readQuantHeader(file)!;
    expect(header).toEqual({ method: 'sinq', bits, group, symmetric: false });
    const linear = findQuantizedLinear(file, header, 'l')!;
    expect([linear.rows, linear.cols, linear.colScale?.name]).toEqual([rows, cols, 'l.col_scale']);
    expect(findQuantizedLinear(file, header, 'other')).toBeUndefined();
    const noZeros = await read(writeSafetensors(parts.filter((p) => p.name !== 'l.zeros'), meta));
    expect(() => findQuantizedLinear(noZeros, header, 'l')).toThrow(/'l': missing 'l.zeros'/);
    const badBits = await read(writeSafetensors(parts, { ...meta, [QUANT_KEYS.bits]: '9' }));
    expect(() => readQuantHeader(badBits)).toThrow(/qgpu.quant.bits '9'/);
    expect(readQuantHeader(await read(writeSafetensors(parts)))).toBeUndefined();
  });
});
