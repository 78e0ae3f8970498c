import { FormatError } from './byte-source.ts';
import { f16ArrayToF32 } from './f16.ts';
import type { GgufTensorInfo } from './gguf.ts';

/** Tensor types the runtime can load today. Quantized types arrive with the quantized-kernels work (issue #3). */
export const SUPPORTED_TENSOR_TYPES = ['F32', 'F16'] as const;
export type SupportedTensorType = (typeof SUPPORTED_TENSOR_TYPES)[number];

export function assertSupportedType(tensor: GgufTensorInfo, fileName: string): SupportedTensorType {
  if ((SUPPORTED_TENSOR_TYPES as readonly string[]).includes(tensor.typeName)) return tensor.typeName as SupportedTensorType;
  throw new FormatError(
    `${fileName}: tensor '${tensor.name}' has type ${tensor.typeName}, which this version of qgpu cannot load yet (supported: ${SUPPORTED_TENSOR_TYPES.join(', ')})`,
  );
}

/** Copies raw little-endian bytes into an aligned typed array (file offsets need not be 4-byte aligned in memory). */
function aligned(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

/** Raw F16 bits of a tensor, for uploading as packed halves. */
export function tensorAsF16Bits(bytes: Uint8Array): Uint16Array {
  return new Uint16Array(aligned(bytes));
}

/** Decodes an F32 or F16 tensor to float32 values (CPU reference and f32 upload path). */
export function decodeToF32(type: SupportedTensorType, bytes: Uint8Array): Float32Array {
  switch (type) {
    case 'F32': return new Float32Array(aligned(bytes));
    case 'F16': return f16ArrayToF32(tensorAsF16Bits(bytes));
  }
}
