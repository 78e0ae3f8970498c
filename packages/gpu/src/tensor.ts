export type DType = 'f32' | 'f16' | 'u32';

export const DTYPE_BYTES: Readonly<Record<DType, number>> = { f32: 4, f16: 2, u32: 4 };

/** A typed window onto GPU memory. Owns nothing: whoever created `buffer` destroys it. */
export interface GpuTensor {
  readonly buffer: GPUBuffer;
  readonly byteOffset: number;
  readonly byteLength: number;
  /** Row-major, innermost last. */
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly label: string;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Storage buffers are bound in multiples of 4 bytes; f16 data of odd length is padded by one half. */
export function storageByteLength(shape: readonly number[], dtype: DType): number {
  return Math.max(4, Math.ceil((elementCount(shape) * DTYPE_BYTES[dtype]) / 4) * 4);
}

/** Creates a storage buffer and a tensor spanning it. `extraUsage` adds COPY_SRC for readback, etc. */
export function createTensor(device: GPUDevice, label: string, shape: readonly number[], dtype: DType, extraUsage = 0): GpuTensor {
  const byteLength = storageByteLength(shape, dtype);
  const buffer = device.createBuffer({
    label,
    size: byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | extraUsage,
  });
  return { buffer, byteOffset: 0, byteLength, shape, dtype, label };
}

/** Uploads bytes into a new tensor (padding to a multiple of 4 bytes). */
export function uploadTensor(device: GPUDevice, label: string, shape: readonly number[], dtype: DType, data: ArrayBufferView): GpuTensor {
  const tensor = createTensor(device, label, shape, dtype);
  const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  if (bytes.byteLength % 4 === 0) {
    device.queue.writeBuffer(tensor.buffer, 0, bytes);
  } else {
    const padded = new Uint8Array(tensor.byteLength);
    padded.set(bytes);
    device.queue.writeBuffer(tensor.buffer, 0, padded);
  }
  return tensor;
}

/** Copies a tensor back to the CPU (tests and debugging; never on the per-token path). */
export async function readTensor(device: GPUDevice, tensor: GpuTensor): Promise<ArrayBuffer> {
  const staging = device.createBuffer({ label: `${tensor.label}.readback`, size: tensor.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(tensor.buffer, tensor.byteOffset, staging, 0, tensor.byteLength);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0);
  staging.destroy();
  return copy;
}
