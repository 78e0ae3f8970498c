// The GGUF reader's checks, one by one, on files built in memory: each problem gives a FormatError with its code and
// a one-line message naming the key or tensor (docs/reliability.md lists them all).
import { describe, expect, it } from 'vitest';
import { bytesSource, FormatError, type ByteSource } from './byte-source.ts';
import { GGUF_LIMITS, GGUF_MAGIC, GgufValueType, readGguf } from './gguf.ts';
import { writeGguf } from './gguf-write.ts';
import { assertSupportedType } from './tensor-data.ts';

/** Little-endian byte builder for headers the writer cannot make (duplicates, nested arrays, bad values). */
class Bytes {
  private parts: number[] = [];
  u32(v: number) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); this.parts.push(...b); return this; }
  u64(v: bigint | number) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v), true); this.parts.push(...b); return this; }
  u8(v: number) { this.parts.push(v); return this; }
  str(s: string) { const b = new TextEncoder().encode(s); this.u64(b.length); this.parts.push(...b); return this; }
  header(tensors: number, kvs: number) { return this.u32(GGUF_MAGIC).u32(3).u64(tensors).u64(kvs); }
  pad(n: number) { while (this.parts.length % n) this.parts.push(0); return this; }
  zeros(n: number) { for (let i = 0; i < n; i++) this.parts.push(0); return this; }
  done() { return Uint8Array.from(this.parts); }
}

async function rejection(source: ByteSource | Uint8Array): Promise<FormatError> {
  const error = await readGguf(source instanceof Uint8Array ? bytesSource(source, 'x.gguf') : source).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(FormatError);
  expect((error as FormatError).message).not.toMatch(/[\r\n]/);
  return error as FormatError;
}

const f32Tensor = (name: string, n: number) => ({ name, ne: [n], typeId: 0, data: new Uint8Array(4 * n) });

describe('GGUF validation', () => {
  it('duplicate metadata keys and duplicate tensor names', async () => {
    const dupKey = new Bytes().header(0, 2).str('a').u32(GgufValueType.UINT8).u8(1).str('a').u32(GgufValueType.UINT8).u8(2).done();
    expect(await rejection(dupKey)).toMatchObject({ code: 'duplicate', message: "x.gguf: duplicate metadata key 'a'" });
    const dupTensor = writeGguf({}, [f32Tensor('w', 4), f32Tensor('w', 4)]);
    expect(await rejection(dupTensor)).toMatchObject({ code: 'duplicate', message: "x.gguf: duplicate tensor 'w'" });
  });

  it('nested arrays, unknown value types and bool bytes other than 0/1', async () => {
    const nested = new Bytes().header(0, 1).str('k').u32(GgufValueType.ARRAY).u32(GgufValueType.ARRAY).u64(1).done();
    expect(await rejection(nested)).toMatchObject({ code: 'bad_value', message: expect.stringMatching(/metadata 'k' is a nested array/) });
    const unknown = new Bytes().header(0, 1).str('k').u32(13).u64(0).done();
    expect(await rejection(unknown)).toMatchObject({ code: 'bad_value', message: "x.gguf: metadata 'k' has unknown value type 13" });
    const bool = new Bytes().header(0, 1).str('k').u32(GgufValueType.BOOL).u8(2).zeros(8).done();
    expect(await rejection(bool)).toMatchObject({ code: 'bad_value', message: "x.gguf: metadata 'k' has invalid bool byte 2" });
  });

  it('general.alignment must be a power of two from 8', async () => {
    for (const alignment of [0, 12, 4, 2 ** 20]) {
      const bytes = writeGguf({ 'general.alignment': { type: 'u32', value: alignment } }, []);
      expect(await rejection(bytes)).toMatchObject({ code: 'bad_value', message: expect.stringMatching(new RegExp(`invalid general.alignment ${alignment} `)) });
    }
  });

  it('string lengths are checked against the bytes left before anything is read for them', async () => {
    const reads: [number, number][] = [];
    const bytes = new Bytes().header(0, 1).u64(2n ** 40n).zeros(64).done();
    const source = bytesSource(bytes, 'x.gguf');
    const spy: ByteSource = { ...source, read: (o, l) => { reads.push([o, l]); return source.read(o, l); } };
    expect(await rejection(spy)).toMatchObject({ code: 'limit', message: 'x.gguf: metadata key #0 claims 1099511627776 bytes but only 64 bytes remain in the file' });
    expect(Math.max(...reads.map(([, l]) => l))).toBeLessThanOrEqual(bytes.length);
  });

  it('the array-element budget bounds numeric arrays before they are allocated', async () => {
    // A file that claims 2^25 + 1 one-byte elements and really is that long, served without holding its bytes.
    const head = new Bytes().header(0, 1).str('big').u32(GgufValueType.ARRAY).u32(GgufValueType.UINT8).u64(GGUF_LIMITS.maxArrayElements + 1).done();
    const byteLength = head.length + GGUF_LIMITS.maxArrayElements + 1;
    const source: ByteSource = {
      byteLength, name: 'x.gguf',
      read: async (offset, length) => { const out = new Uint8Array(length); out.set(head.subarray(offset, offset + length)); return out; },
    };
    expect(await rejection(source)).toMatchObject({ code: 'limit', message: expect.stringMatching(/array 'big' of 33554433 elements exceeds .* budget of 33554432 array elements/) });
  });

  it('overlapping tensors, misaligned offsets and data past the end', async () => {
    const twoTensors = (secondOffset: number) => new Bytes().header(2, 0)
      .str('a').u32(1).u64(16).u32(0).u64(0)
      .str('b').u32(1).u64(16).u32(0).u64(secondOffset)
      .pad(32).zeros(128).done();
    expect(await rejection(twoTensors(32))).toMatchObject({ code: 'out_of_bounds', message: "x.gguf: tensor 'b' data overlaps tensor 'a'" });
    expect(await rejection(twoTensors(72))).toMatchObject({ code: 'out_of_bounds', message: "x.gguf: tensor 'b' data offset 72 is not aligned to 32" });
    expect(await rejection(twoTensors(96))).toMatchObject({ code: 'out_of_bounds', message: expect.stringMatching(/tensor 'b' data \[\d+, \d+\) lies outside the file/) });
    // Apart, in any order, with padding between them: accepted.
    const ok = await readGguf(bytesSource(new Bytes().header(2, 0)
      .str('a').u32(1).u64(16).u32(0).u64(64).str('b').u32(1).u64(8).u32(0).u64(0).pad(32).zeros(128).done(), 'x.gguf'));
    expect(ok.tensors.map((t) => t.byteLength)).toEqual([64, 32]);
  });

  it('dims: count, safe integers and an overflowing product', async () => {
    const dims = (ne: bigint[]) => { const b = new Bytes().header(1, 0).str('t').u32(ne.length); for (const d of ne) b.u64(d); return b.u32(0).u64(0).pad(32).zeros(64).done(); };
    expect(await rejection(dims([]))).toMatchObject({ code: 'bad_tensor', message: "x.gguf: tensor 't' has 0 dimensions (1 to 4 allowed)" });
    expect(await rejection(dims([1n, 1n, 1n, 1n, 1n]))).toMatchObject({ code: 'bad_tensor' });
    expect(await rejection(dims([2n ** 53n]))).toMatchObject({ code: 'limit', message: "x.gguf: dimension 0 of 't' 9007199254740992 is larger than a safe integer" });
    expect(await rejection(dims([2n ** 30n, 2n ** 30n]))).toMatchObject({ code: 'bad_tensor', message: "x.gguf: tensor 't' has dims [1073741824,1073741824] whose product overflows" });
  });

  it('a type qgpu cannot run still parses, and is named when the loader checks it', async () => {
    // IQ2_XXS: 256 elements in 66 bytes.
    const file = await readGguf(bytesSource(writeGguf({}, [{ name: 'q', ne: [256], typeId: 16, data: new Uint8Array(66) }]), 'x.gguf'));
    expect(file.tensors[0]).toMatchObject({ typeName: 'IQ2_XXS', byteLength: 66 });
    expect(() => assertSupportedType(file.tensors[0]!, 'x.gguf')).toThrow(/tensor 'q' has type IQ2_XXS, which qgpu cannot load/);
  });

  it('a newline in a tensor name stays out of the one-line message, and long names are cut', async () => {
    const evil = `w\nqgpu: injected line ${'x'.repeat(200)}`;
    const bytes = writeGguf({}, [f32Tensor(evil, 4), f32Tensor(evil, 4)]);
    const error = await rejection(bytes);
    expect(error.message).toMatch(/^x\.gguf: duplicate tensor 'w\\u000aqgpu: injected line x+\.\.\.'$/);
    expect(error.message.length).toBeLessThan(130);
  });
});
