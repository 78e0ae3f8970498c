// GGUF block quantization: exact llama.cpp dequantizers and reference quantizers (CPU), and the repacking of
// blocks into the structure-of-arrays u32 layout the WGSL kernels read.
import { blockCountOf, checkQuantBytes, QUANT_BLOCK, type QuantTypeName } from './common.ts';
import {
  dequantizeQ4_0, dequantizeQ4_1, dequantizeQ5_0, dequantizeQ5_1, dequantizeQ8_0,
  quantizeQ4_0, quantizeQ4_1, quantizeQ5_0, quantizeQ5_1, quantizeQ8_0,
} from './legacy.ts';
import { dequantizeQ4_K, quantizeQ4_K } from './q4k.ts';
import { dequantizeQ6_K, quantizeQ6_K } from './q6k.ts';

export { isQuantTypeName, QUANT_BLOCK, type QuantTypeName } from './common.ts';
export { repack, repackedWordsPerBlock, type RepackedTensor } from './repack.ts';
export { dequantizeRepacked } from './repacked-decode.ts';

type BlockDecoder = (bytes: Uint8Array, blocks: number, out: Float32Array) => void;
type BlockEncoder = (x: Float32Array, blocks: number, out: Uint8Array) => void;

const DEQUANTIZE: Record<QuantTypeName, BlockDecoder> = {
  Q8_0: dequantizeQ8_0, Q4_0: dequantizeQ4_0, Q4_1: dequantizeQ4_1, Q5_0: dequantizeQ5_0, Q5_1: dequantizeQ5_1,
  Q4_K: dequantizeQ4_K, Q6_K: dequantizeQ6_K,
};

const QUANTIZE: Record<QuantTypeName, BlockEncoder> = {
  Q8_0: quantizeQ8_0, Q4_0: quantizeQ4_0, Q4_1: quantizeQ4_1, Q5_0: quantizeQ5_0, Q5_1: quantizeQ5_1,
  Q4_K: quantizeQ4_K, Q6_K: quantizeQ6_K,
};

/**
 * Decodes `elementCount` values from GGUF blocks in file layout, bit-identical to ggml's `dequantize_row_*`
 * (every product and sum rounded to f32 as ggml's C code does). Throws a FormatError when `bytes` is not exactly
 * the blocks of `elementCount` values.
 */
export function dequantize(typeName: QuantTypeName, bytes: Uint8Array, elementCount: number): Float32Array {
  const blocks = checkQuantBytes(typeName, bytes, elementCount);
  const out = new Float32Array(elementCount);
  DEQUANTIZE[typeName](bytes, blocks, out);
  return out;
}

/**
 * Quantizes `values` (a whole number of blocks; rows simply concatenated, since every block is quantized on its
 * own) with llama.cpp's reference quantizer `quantize_row_*_ref`, i.e. what llama-quantize writes without an
 * importance matrix. Returns the blocks in GGUF file layout.
 */
export function quantize(typeName: QuantTypeName, values: Float32Array): Uint8Array {
  const blocks = blockCountOf(typeName, values.length);
  const out = new Uint8Array(blocks * QUANT_BLOCK[typeName].bytes);
  QUANTIZE[typeName](values, blocks, out);
  return out;
}
