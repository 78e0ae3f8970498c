// Inputs for the quant tests only (Node: reads files; never imported by the browser-safe package entry):
// seeded random data, random raw blocks, and the quantized tensors of the stories260K GGUF files with their F32 originals.
import { readdirSync, readFileSync } from 'node:fs';
import { bytesSource } from '../byte-source.ts';
import { f16ToF32 } from '../f16.ts';
import { readGguf, readTensorBytes, type GgufTensorInfo } from '../gguf.ts';
import { decodeToF32 } from '../tensor-data.ts';
import { mulberry32 } from '../random.ts';
import { isQuantTypeName, QUANT_BLOCK, type QuantTypeName } from './common.ts';

/** The shared fixtures folder (`QGPU_FIXTURES`, default `../shared` beside the repository). */
export const SHARED = process.env.QGPU_FIXTURES ?? new URL('../../../../../shared/', import.meta.url).pathname;
/** Where the stories260K GGUF files live. */
export const MODELS = `${SHARED}/models/stories260K`;

export { mulberry32 };

/** `n` standard-normal f32 values (Box–Muller), times `scale`: weight-like data with a few large outliers. */
export function gaussian(seed: number, n: number, scale = 1): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()) * scale;
  return out;
}

/** A random finite f16 bit pattern (any sign, exponent 0…30, so subnormals and large values are included). */
function randomFiniteF16(next: () => number): number {
  const bits = Math.floor(next() * 0x10000);
  return ((bits >> 10) & 0x1f) === 0x1f ? bits & ~0x4000 : bits;
}

/** Byte offsets of the f16 fields of each block type (scales that must not be NaN/Inf in random blocks). */
const F16_FIELDS: Record<QuantTypeName, readonly number[]> = {
  Q8_0: [0], Q4_0: [0], Q4_1: [0, 2], Q5_0: [0], Q5_1: [0, 2], Q4_K: [0, 2], Q6_K: [208],
};

/** `blocks` blocks of uniformly random bytes whose f16 fields are random finite halves. */
export function randomBlocks(type: QuantTypeName, blocks: number, seed: number): Uint8Array {
  const next = mulberry32(seed);
  const size = QUANT_BLOCK[type].bytes;
  const bytes = Uint8Array.from({ length: blocks * size }, () => Math.floor(next() * 256));
  for (let b = 0; b < blocks; b++) {
    for (const offset of F16_FIELDS[type]) {
      const h = randomFiniteF16(next);
      bytes[b * size + offset] = h & 0xff;
      bytes[b * size + offset + 1] = h >> 8;
    }
  }
  return bytes;
}

/** The f16 at byte `o` of `bytes`. */
export const halfAt = (bytes: Uint8Array, o: number) => f16ToF32(bytes[o]! | (bytes[o + 1]! << 8));

export interface RealQuantTensor {
  file: string;
  tensor: GgufTensorInfo;
  type: QuantTypeName;
  bytes: Uint8Array;
  /** The same tensor from the F32 file the quantized file was made from. */
  original: Float32Array;
}

/** Every quantized tensor of every stories260K GGUF file, with its F32 original (pad256 files from pad256-f32). */
export async function realQuantTensors(): Promise<RealQuantTensor[]> {
  const open = async (name: string) => readGguf(bytesSource(new Uint8Array(readFileSync(`${MODELS}/${name}`)), name));
  const originals = new Map<string, Awaited<ReturnType<typeof open>>>();
  const result: RealQuantTensor[] = [];
  for (const name of readdirSync(MODELS).filter((n) => n.endsWith('.gguf')).sort()) {
    const file = await open(name);
    const quantized = file.tensors.filter((t) => isQuantTypeName(t.typeName));
    if (quantized.length === 0) continue;
    const sourceName = name.startsWith('stories260K-pad256') ? 'stories260K-pad256-f32.gguf' : 'stories260K-f32.gguf';
    if (!originals.has(sourceName)) originals.set(sourceName, await open(sourceName));
    const source = originals.get(sourceName)!;
    for (const tensor of quantized) {
      const sourceTensor = source.tensors.find((t) => t.name === tensor.name)!;
      result.push({
        file: name, tensor, type: tensor.typeName as QuantTypeName, bytes: await readTensorBytes(file, tensor),
        original: decodeToF32('F32', await readTensorBytes(source, sourceTensor)),
      });
    }
  }
  return result;
}

/**
 * Index of the first element whose f32 bits differ (−1 when identical): a bit-level comparison (−0 ≠ 0), and far
 * faster than a deep `toEqual` on millions of elements.
 */
export function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}
