import { FormatError } from './byte-source.ts';
import { f16ArrayToF32 } from './f16.ts';
import type { GgufTensorInfo } from './gguf.ts';
import { dequantize, isQuantTypeName, type QuantTypeName } from './quant/index.ts';

/** Tensor types the runtime can load: dense F32/F16 and the GGUF block types that have a codec and kernels. */
export const SUPPORTED_TENSOR_TYPES = ['F32', 'F16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q4_K', 'Q6_K'] as const;
export type SupportedTensorType = 'F32' | 'F16' | QuantTypeName;

export function assertSupportedType(tensor: GgufTensorInfo, fileName: string): SupportedTensorType {
  if ((SUPPORTED_TENSOR_TYPES as readonly string[]).includes(tensor.typeName)) return tensor.typeName as SupportedTensorType;
  throw new FormatError(
    `${fileName}: tensor '${tensor.name}' has type ${tensor.typeName}, which qgpu cannot load (supported: ${SUPPORTED_TENSOR_TYPES.join(', ')})`,
    'unsupported',
  );
}

/** Copies raw little-endian bytes into an aligned typed array (file offsets need not be 4-byte aligned in memory). */
function aligned(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

/** Raw F16 bits of a tensor, for uploading as packed halves. */
export function tensorAsF16Bits(bytes: Uint8Array): Uint16Array<ArrayBuffer> {
  return new Uint16Array(aligned(bytes));
}

/** Decodes an F32 or F16 tensor to float32 values. */
export function decodeToF32(type: 'F32' | 'F16', bytes: Uint8Array): Float32Array<ArrayBuffer> {
  switch (type) {
    case 'F32': return new Float32Array(aligned(bytes));
    case 'F16': return f16ArrayToF32(tensorAsF16Bits(bytes));
  }
}

/** Any supported tensor as float32 values (quantized types are dequantized exactly as ggml does). */
export function tensorToF32(type: SupportedTensorType, bytes: Uint8Array, elementCount: number): Float32Array {
  if (isQuantTypeName(type)) return dequantize(type, bytes, elementCount);
  return decodeToF32(type, bytes);
}
