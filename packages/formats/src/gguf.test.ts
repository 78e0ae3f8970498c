import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource, FormatError } from './byte-source.ts';
import { f16ToF32, f32ToF16 } from './f16.ts';
import { readGguf, readTensorBytes } from './gguf.ts';
import { writeGguf } from './gguf-write.ts';
import { decodeToF32 } from './tensor-data.ts';

const SHARED = process.env.QGPU_FIXTURES ?? new URL('../../../../shared/', import.meta.url).pathname;

describe('GGUF reader', () => {
  it('reads every metadata value type, arrays, alignment and tensor infos from a file built in memory', async () => {
    const weights = new Float32Array([1, -2, 3.5, 0, 7, 8]);
    const bytes = writeGguf(
      {
        'general.alignment': { type: 'u32', value: 64 },
        'k.u8': { type: 'u8', value: 250 }, 'k.i8': { type: 'i8', value: -5 },
        'k.u16': { type: 'u16', value: 65000 }, 'k.i16': { type: 'i16', value: -300 },
        'k.u32': { type: 'u32', value: 4_000_000_000 }, 'k.i32': { type: 'i32', value: -70000 },
        'k.f32': { type: 'f32', value: 0.5 }, 'k.f64': { type: 'f64', value: Math.PI },
        'k.u64': { type: 'u64', value: 2n ** 60n }, 'k.i64': { type: 'i64', value: -12345 },
        'k.bool': { type: 'bool', value: true }, 'k.str': { type: 'string', value: 'héllo ✓' },
        'k.arr': { type: 'array', elementType: 'string', value: ['a', '', 'ß'] },
        'k.arrf': { type: 'array', elementType: 'f32', value: [1.5, -2] },
      },
      [
        { name: 'w', ne: [3, 2], typeId: 0, data: new Uint8Array(weights.buffer) },
        { name: 'h', ne: [2], typeId: 1, data: new Uint8Array(new Uint16Array([f32ToF16(1.25), f32ToF16(-3)]).buffer) },
      ],
      64,
    );
    const file = await readGguf(bytesSource(bytes, 'mem.gguf'));
    expect(file.version).toBe(3);
    expect(file.alignment).toBe(64);
    expect(file.dataOffset % 64).toBe(0);
    const m = Object.fromEntries(file.metadata);
    expect(m).toMatchObject({
      'k.u8': 250, 'k.i8': -5, 'k.u16': 65000, 'k.i16': -300, 'k.u32': 4_000_000_000, 'k.i32': -70000,
      'k.f32': 0.5, 'k.f64': Math.PI, 'k.u64': 2n ** 60n, 'k.i64': -12345, 'k.bool': true, 'k.str': 'héllo ✓',
      'k.arr': ['a', '', 'ß'], 'k.arrf': [1.5, -2],
    });
    const [w, h] = file.tensors;
    expect(w).toMatchObject({ name: 'w', ne: [3, 2], typeName: 'F32', byteLength: 24, elementCount: 6 });
    expect(h!.byteOffset % 64).toBe(0);
    expect(Array.from(decodeToF32('F32', await readTensorBytes(file, w!)))).toEqual(Array.from(weights));
    expect(Array.from(decodeToF32('F16', await readTensorBytes(file, h!)))).toEqual([1.25, -3]);
  });

  it('reads v2 files (same layout as v3) and rejects v1 and unknown versions', async () => {
    const bytes = writeGguf({ 'general.name': { type: 'string', value: 'v2' } }, [{ name: 't', ne: [2], typeId: 0, data: new Uint8Array(8) }]);
    const withVersion = (v: number) => { const b = bytes.slice(); new DataView(b.buffer).setUint32(4, v, true); return b; };
    const v2 = await readGguf(bytesSource(withVersion(2), 'v2.gguf'));
    expect(v2.version).toBe(2);
    expect(v2.metadata.get('general.name')).toBe('v2');
    expect(v2.tensors[0]!.ne).toEqual([2]);
    await expect(readGguf(bytesSource(withVersion(1), 'v1.gguf'))).rejects.toThrow(/unsupported GGUF version 1/);
    await expect(readGguf(bytesSource(withVersion(4), 'v4.gguf'))).rejects.toThrow(/unsupported GGUF version 4/);
  });

  it('rejects bad magic, truncation and out-of-file tensors with a FormatError', async () => {
    await expect(readGguf(bytesSource(new TextEncoder().encode('not a gguf at all'), 'x'))).rejects.toThrow(/bad magic/);
    const good = writeGguf({ 'a': { type: 'string', value: 'b' } }, [{ name: 't', ne: [4], typeId: 0, data: new Uint8Array(16) }]);
    await expect(readGguf(bytesSource(good.subarray(0, 30), 't'))).rejects.toBeInstanceOf(FormatError);
    await expect(readGguf(bytesSource(good.subarray(0, good.byteLength - 20), 't'))).rejects.toThrow(/outside the file/);
  });

  it('parses the real stories260K GGUF header (metadata, vocab arrays, tensor table)', async () => {
    const bytes = new Uint8Array(readFileSync(`${SHARED}/models/stories260K/stories260K-f16.gguf`));
    const file = await readGguf(bytesSource(bytes, 'stories260K-f16.gguf'));
    const manifest = JSON.parse(readFileSync(`${SHARED}/models/stories260K/gguf_manifest.json`, 'utf8'))['stories260K-f16.gguf'];
    for (const [key, value] of Object.entries(manifest.metadata)) expect(file.metadata.get(key)).toEqual(value);
    expect(file.tensors.map((t) => ({ name: t.name, type: t.typeName, ne: t.ne }))).toEqual(manifest.tensors);
    expect((file.metadata.get('tokenizer.ggml.tokens') as string[]).length).toBe(512);
  });
});

describe('f16', () => {
  it('round-trips every finite half exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      const f = f16ToF32(h);
      if (Number.isNaN(f)) continue;
      expect(f32ToF16(f)).toBe(h === 0x8000 ? 0x8000 : h);
    }
  });
});
