// A DeviceContext whose device and queue count what the per-token path must not do: create GPU objects, submit,
// write, map. Used by the structural tests of the decode plan (runtime) and by the end-to-end benchmark (bench);
// browser-safe (it patches the WebGPU prototypes of whatever implementation is running).
import type { DeviceContext } from './device.ts';

/** Device methods that create a GPU object (command encoders are counted apart: see the decode test). */
export const CREATORS = [
  'createBuffer', 'createBindGroup', 'createBindGroupLayout', 'createPipelineLayout', 'createShaderModule',
  'createComputePipeline', 'createComputePipelineAsync', 'createQuerySet', 'createTexture', 'createSampler',
] as const;

export interface Counts {
  created: Record<string, number>;
  commandEncoders: number;
  submits: number;
  writeBufferBytes: number[];
  /** Size of every buffer created (createBuffer's size), in order. */
  bufferBytes: number[];
  /** Bytes made readable by each mapAsync (its size argument, else the buffer's size minus the offset). */
  mapBytes: number[];
  /** Per encoded pass: the pipelines and bind groups set, in order. */
  passes: { pipelines: GPUComputePipeline[]; bindGroups: GPUBindGroup[]; dispatches: number }[];
}

export function zeroCounts(): Counts {
  return { created: Object.fromEntries(CREATORS.map((c) => [c, 0])), commandEncoders: 0, submits: 0, writeBufferBytes: [], bufferBytes: [], mapBytes: [], passes: [] };
}

/**
 * A DeviceContext whose device and queue count every call that creates an object, encodes or submits. The wrapper
 * forwards each call to the real object (Dawn checks `this`), so the model under test runs unchanged. Buffers, passes
 * and encoders are Dawn objects passed back into native calls, so those are observed through their prototypes.
 */
export function countingContext(base: DeviceContext): { ctx: DeviceContext; counts: { current: Counts }; restore: () => void } {
  const counts = { current: zeroCounts() };
  const real = base.device;
  const queue = new Proxy(real.queue, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (prop === 'submit') counts.current.submits++;
        if (prop === 'writeBuffer') {
          const data = args[2] as ArrayBufferView | ArrayBuffer;
          counts.current.writeBufferBytes.push((args[4] as number | undefined) ?? data.byteLength);
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const device = new Proxy(real, {
    get(target, prop) {
      if (prop === 'queue') return queue;
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if ((CREATORS as readonly (string | symbol)[]).includes(prop)) counts.current.created[prop as string]!++;
        if (prop === 'createCommandEncoder') counts.current.commandEncoders++;
        if (prop === 'createBuffer') counts.current.bufferBytes.push((args[0] as GPUBufferDescriptor).size);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const bufferProto = GPUBuffer.prototype;
  const passProto = GPUComputePassEncoder.prototype;
  const encoderProto = GPUCommandEncoder.prototype;
  const originals = {
    mapAsync: bufferProto.mapAsync, setPipeline: passProto.setPipeline, setBindGroup: passProto.setBindGroup,
    dispatchWorkgroups: passProto.dispatchWorkgroups, beginComputePass: encoderProto.beginComputePass,
  };
  bufferProto.mapAsync = function (this: GPUBuffer, mode: number, offset?: number, size?: number) {
    counts.current.mapBytes.push(size ?? this.size - (offset ?? 0));
    return originals.mapAsync.call(this, mode, offset, size);
  };
  encoderProto.beginComputePass = function (this: GPUCommandEncoder, descriptor?: GPUComputePassDescriptor) {
    counts.current.passes.push({ pipelines: [], bindGroups: [], dispatches: 0 });
    return originals.beginComputePass.call(this, descriptor);
  };
  const lastPass = () => counts.current.passes[counts.current.passes.length - 1]!;
  passProto.setPipeline = function (this: GPUComputePassEncoder, pipeline: GPUComputePipeline) {
    lastPass().pipelines.push(pipeline);
    return originals.setPipeline.call(this, pipeline);
  };
  passProto.setBindGroup = function (this: GPUComputePassEncoder, index: number, group: GPUBindGroup | null, ...rest: unknown[]) {
    if (group) lastPass().bindGroups.push(group);
    return (originals.setBindGroup as (...a: unknown[]) => void).call(this, index, group, ...rest);
  } as GPUComputePassEncoder['setBindGroup'];
  passProto.dispatchWorkgroups = function (this: GPUComputePassEncoder, x: number, y?: number, z?: number) {
    lastPass().dispatches++;
    return originals.dispatchWorkgroups.call(this, x, y, z);
  };
  const restore = () => {
    bufferProto.mapAsync = originals.mapAsync;
    passProto.setPipeline = originals.setPipeline;
    passProto.setBindGroup = originals.setBindGroup;
    passProto.dispatchWorkgroups = originals.dispatchWorkgroups;
    encoderProto.beginComputePass = originals.beginComputePass;
  };
  return { ctx: { ...base, device }, counts, restore };
}
