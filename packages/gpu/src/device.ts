/** What the runtime needs to know about the device it got, decided once at creation. */
export interface DeviceContext {
  readonly device: GPUDevice;
  readonly adapterInfo: { vendor: string; architecture: string; device: string; description: string };
  readonly features: ReadonlySet<string>;
  readonly hasF16: boolean;
  /** WGSL language extensions the implementation supports (e.g. packed_4x8_integer_dot_product). */
  readonly wgslFeatures: ReadonlySet<string>;
  readonly limits: {
    readonly maxStorageBufferBindingSize: number;
    readonly maxBufferSize: number;
    readonly minUniformBufferOffsetAlignment: number;
    readonly maxComputeWorkgroupsPerDimension: number;
    readonly maxComputeInvocationsPerWorkgroup: number;
  };
}

/** Raised when no WebGPU adapter or device can be had; the message says why. */
export class NoGpuError extends Error {
  override readonly name = 'NoGpuError';
}

const WANTED_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];

/**
 * Requests an adapter and a device with the adapter's full storage limits (the spec defaults, 128 MiB bindings and
 * 256 MiB buffers, are too small for real models), its storage offset alignment, and the optional features qgpu can use.
 */
export async function createDeviceContext(gpu: GPU | undefined, options: GPURequestAdapterOptions = { powerPreference: 'high-performance' }): Promise<DeviceContext> {
  if (!gpu) throw new NoGpuError('WebGPU is not available in this environment (navigator.gpu is missing)');
  const adapter = await gpu.requestAdapter(options);
  if (!adapter) throw new NoGpuError('WebGPU is available but no adapter was found');
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({
    label: 'qgpu',
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(adapter.limits.maxStorageBuffersPerShaderStage, 10),
      // The adapter's own (often 16 or 32 bytes, not the default 256): the fused q/k/v projection writes one region
      // that rope, kv_write and attention bind as views, which needs their offsets aligned (llama/fuse.ts).
      minStorageBufferOffsetAlignment: adapter.limits.minStorageBufferOffsetAlignment,
    },
  });
  const info = adapter.info;
  return {
    device,
    adapterInfo: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description },
    features: new Set(device.features as unknown as Iterable<string>),
    hasF16: device.features.has('shader-f16'),
    wgslFeatures: new Set((gpu.wgslLanguageFeatures as unknown as Iterable<string> | undefined) ?? []),
    limits: {
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
      minUniformBufferOffsetAlignment: device.limits.minUniformBufferOffsetAlignment,
      maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
      maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
    },
  };
}
