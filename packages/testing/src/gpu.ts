// The GPU test helper: one device per test process on the driver named by QGPU_ADAPTER (set per Vitest project),
// and a way to run a single kernel dispatch. A missing adapter skips GPU suites with the reason printed, except
// under CI=true, where it is a failure: CI must never pass without having run the GPU tests.
import { createDeviceContext, PipelineCache, PlanBuilder, readTensor, uploadTensor, createTensor, type DeviceContext, type DType, type GpuTensor } from '@qgpu/gpu';
import { nodeGpu, type NodeAdapterName } from '@qgpu/gpu/node';
import type { BufferBindingName, KernelDescriptor, OverrideValues, ParamValues, Prelude } from '@qgpu/shaders';

export interface TestGpu {
  readonly ctx: DeviceContext | null;
  readonly adapter: NodeAdapterName;
  /** Why ctx is null, for the skip message. */
  readonly reason: string;
}

let cached: Promise<TestGpu> | undefined;

export function testGpu(): Promise<TestGpu> {
  cached ??= (async () => {
    const adapter = (process.env.QGPU_ADAPTER as NodeAdapterName | undefined) ?? 'auto';
    try {
      const ctx = await createDeviceContext(nodeGpu(adapter));
      return { ctx, adapter, reason: '' };
    } catch (error) {
      const reason = `no WebGPU adapter (${adapter}): ${error instanceof Error ? error.message : String(error)}`;
      if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
      console.warn(`GPU tests skipped: ${reason}`);
      return { ctx: null, adapter, reason };
    }
  })();
  return cached;
}

/** A tensor of test data, in f32 or (for f16 activations) as packed halves. */
export function upload(ctx: DeviceContext, label: string, shape: number[], dtype: DType, data: ArrayBufferView): GpuTensor {
  return uploadTensor(ctx.device, label, shape, dtype, data);
}

export function empty(ctx: DeviceContext, label: string, shape: number[], dtype: DType): GpuTensor {
  return createTensor(ctx.device, label, shape, dtype);
}

export { readTensor };

/** Runs one dispatch of `kernel` (with the given step values when the kernel reads `step`) and waits for it. */
export async function runKernel<K extends KernelDescriptor>(
  ctx: DeviceContext,
  act: Prelude,
  kernel: K,
  spec: {
    params: ParamValues<K>;
    bindings: { readonly [B in BufferBindingName<K>]: GpuTensor };
    overrides?: OverrideValues<K>;
    workgroups: readonly [number, number?, number?];
    step?: { pos: number; nTokens: number };
  },
): Promise<void> {
  const { device } = ctx;
  const stepBuffer = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(stepBuffer, 0, new Uint32Array([spec.step?.pos ?? 0, spec.step?.nTokens ?? 1, 0, 0]));
  const builder = new PlanBuilder(new PipelineCache(ctx, act), stepBuffer, `test.${kernel.name}`);
  builder.dispatch(kernel, spec);
  const plan = await builder.build();
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  plan.encode(pass);
  pass.end();
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  plan.destroy();
  stepBuffer.destroy();
}
