// Benchmark weights for every matmul format, built once per (format, shape) and uploaded as the kernels read them.
// Only the layout and the byte count matter for timing, not the values, so a small tile of real data is made and
// repeated: quantizing a whole 2048×32000 matrix with the Q4_K/Q6_K reference quantizers would take minutes on
// this machine (~1 s per 256 K values), while the kernels do no data-dependent work. The tile comes from the real
// reference quantizer (not random bytes) so every scale is a sane f16 and no subnormal arithmetic slows the CPU
// adapters down in a way real weights would not.
import { f32ToF16, quantize, quantizeLut, QUANT_BLOCK, repack, repackedWordsPerBlock, type LutBits, type QuantTypeName } from '@qgpu/formats';
import { createTensor, type DeviceContext, type GpuTensor } from '@qgpu/gpu';
import * as kernels from '@qgpu/shaders';
import { randomFloats } from '@qgpu/testing';

/** The weight formats benchmarked, in table order, each with its per-(row, token) matmul kernel (decode's). */
export const MATMUL_KERNELS = {
  f32: kernels.matmul_f32,
  f16: kernels.matmul_f16,
  q8_0: kernels.matmul_q8_0,
  q6_k: kernels.matmul_q6_k,
  q5_0: kernels.matmul_q5_0,
  q4_k: kernels.matmul_q4_k,
  q4_0: kernels.matmul_q4_0,
} as const;

/** The tiled prefill kernels (gemm_*): one weight decode per TILE_TOKENS tokens, for shapes with several tokens. */
export const GEMM_KERNELS = {
  f32: kernels.gemm_f32,
  f16: kernels.gemm_f16,
  q8_0: kernels.gemm_q8_0,
  q6_k: kernels.gemm_q6_k,
  q5_0: kernels.gemm_q5_0,
  q4_k: kernels.gemm_q4_k,
  q4_0: kernels.gemm_q4_0,
} as const satisfies Record<keyof typeof MATMUL_KERNELS, unknown>;

export type Format = keyof typeof MATMUL_KERNELS;
export const FORMATS = Object.keys(MATMUL_KERNELS) as Format[];

const QUANT_TYPE: Partial<Record<Format, QuantTypeName>> = { q8_0: 'Q8_0', q6_k: 'Q6_K', q5_0: 'Q5_0', q4_k: 'Q4_K', q4_0: 'Q4_0' };

/** Values per block: cols must be a multiple (f16 weights are read in pairs). */
export function blockValues(format: Format): number {
  const type = QUANT_TYPE[format];
  return type ? QUANT_BLOCK[type].elements : format === 'f16' ? 2 : 1;
}

/** Values in one tile: 256 K-quant super-blocks (2048 legacy blocks); an even block count keeps f16 pairs aligned. */
export const TILE_VALUES = 65_536;

export const WEIGHT_METHOD =
  `a tile of ${TILE_VALUES} uniform random values in [-1, 1) (seed 1), quantized with the @qgpu/formats reference ` +
  'quantizer and repacked, then repeated part by part to fill the matrix (f32/f16: the same random tile, repeated)';

/** Uploaded weights: the tensors to bind by name, and the bytes the kernel must read. */
export interface BenchWeights {
  readonly tensors: Record<string, GpuTensor>;
  readonly bytes: number;
}

/** `length` words made of `tile` repeated (the last copy cut short). */
export function tileWords(tile: Uint32Array, length: number): Uint32Array<ArrayBuffer> {
  const out = new Uint32Array(length);
  for (let at = 0; at < length; at += tile.length) out.set(tile.subarray(0, Math.min(tile.length, length - at)), at);
  return out;
}

/** Words of each part for `blocks` blocks; f16-pair parts (0.5 word per block) round up, as repack() does. */
function partWords(type: QuantTypeName, blocks: number): Record<string, number> {
  const perBlock = repackedWordsPerBlock(type);
  return Object.fromEntries(Object.entries(perBlock).map(([name, w]) => [name, w === 0.5 ? Math.ceil(blocks / 2) : blocks * w]));
}

/** The u32 parts of a rows×cols matrix in `format` (f32 data is returned as its bit pattern). */
export function weightParts(format: Format, rows: number, cols: number): Record<string, Uint32Array<ArrayBuffer>> {
  const count = rows * cols;
  const values = randomFloats(1, TILE_VALUES, 1);
  if (format === 'f32') return { weight: tileWords(new Uint32Array(values.buffer), count) };
  if (format === 'f16') {
    const halves = Uint16Array.from(values, f32ToF16);
    return { weight: tileWords(new Uint32Array(halves.buffer), Math.ceil(count / 2)) };
  }
  const type = QUANT_TYPE[format]!;
  const blockValues = QUANT_BLOCK[type].elements;
  if (cols % blockValues !== 0) throw new Error(`${format}: cols ${cols} is not a multiple of ${blockValues}`);
  const tile = repack(type, quantize(type, values), TILE_VALUES).parts;
  const lengths = partWords(type, count / blockValues);
  return Object.fromEntries(Object.entries(tile).map(([name, words]) => [name, tileWords(words, lengths[name]!)]));
}

/** Bytes of every part, without building them (to skip shapes that exceed a binding before allocating). */
export function weightPartBytes(format: Format, rows: number, cols: number): number[] {
  const count = rows * cols;
  if (format === 'f32') return [count * 4];
  if (format === 'f16') return [Math.ceil(count / 2) * 4];
  const type = QUANT_TYPE[format]!;
  return Object.values(partWords(type, count / QUANT_BLOCK[type].elements)).map((words) => words * 4);
}

/** Uploads the weights of `format`; the caller destroys the tensors' buffers. */
export function uploadWeights(ctx: DeviceContext, format: Format, rows: number, cols: number): BenchWeights {
  return uploadParts(ctx, format, weightParts(format, rows, cols));
}

/** The int8 ("dp4a") path's decode kernels, run after quantize_act_q8 on the same weights as the dequant kernels. */
export const DP4A_KERNELS = {
  q8_0: kernels.matmul_dp4a_q8_0,
  q4_k: kernels.matmul_dp4a_q4_k,
  q4_0: kernels.matmul_dp4a_q4_0,
} as const;
export type Dp4aFormat = keyof typeof DP4A_KERNELS;
export const DP4A_FORMATS = Object.keys(DP4A_KERNELS) as Dp4aFormat[];

/** LUT (T-MAC) code widths benchmarked: T-MAC's 1..4 bits and 8 (what Q8_0 converts to exactly). */
export const LUT_BITS_BENCHED: readonly LutBits[] = [1, 2, 3, 4, 8];
/** Scale group of the benchmarked LUT weights (one GGUF block, the group the loader converts to). */
export const LUT_GROUP = 32;

/**
 * LUT bit-plane weights ([rows, cols/32, bits] planes, f32 scale and zero per 32 columns) built the way the other
 * formats are: the random tile quantized once (RTN, @qgpu/formats quantizeLut) and repeated. The plane layout is
 * block-major, so a tile of whole 32-column blocks repeats into a valid matrix.
 */
export function lutWeightParts(bits: LutBits, rows: number, cols: number): Record<string, Uint32Array<ArrayBuffer>> {
  if (cols % LUT_GROUP !== 0) throw new Error(`lut: cols ${cols} is not a multiple of ${LUT_GROUP}`);
  const tile = quantizeLut(randomFloats(1, TILE_VALUES, 1), TILE_VALUES / 1024, 1024, bits, LUT_GROUP);
  const blocks = (rows * cols) / 32;
  return {
    planes: tileWords(tile.planes, blocks * bits),
    scales: tileWords(new Uint32Array(tile.scales.buffer), blocks),
    zeros: tileWords(new Uint32Array(tile.zeros.buffer), blocks),
  };
}

/** Bytes of the LUT parts without building them. */
export function lutWeightPartBytes(bits: number, rows: number, cols: number): number[] {
  const blocks = (rows * cols) / 32;
  return [blocks * bits * 4, blocks * 4, blocks * 4];
}

/** Uploads named u32 parts; the caller destroys the tensors' buffers. */
export function uploadParts(ctx: DeviceContext, label: string, parts: Record<string, Uint32Array<ArrayBuffer>>): BenchWeights {
  const tensors: Record<string, GpuTensor> = {};
  let bytes = 0;
  for (const [name, words] of Object.entries(parts)) {
    const tensor = createTensor(ctx.device, `${label}.${name}`, [words.length], 'u32');
    ctx.device.queue.writeBuffer(tensor.buffer, 0, words);
    tensors[name] = tensor;
    bytes += tensor.byteLength;
  }
  return { tensors, bytes };
}
