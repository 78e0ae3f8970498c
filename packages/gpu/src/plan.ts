// A Plan is a fixed list of dispatches recorded once (pipelines, bind groups and params decided at build time) and
// replayed for every token: encoding it writes nothing and allocates nothing.
import { shaderCode, type BufferBindingName, type KernelDescriptor, type OverrideValues, type ParamValues, type Prelude } from '@qgpu/shaders';
import type { DeviceContext } from './device.ts';
import type { GpuTensor } from './tensor.ts';

export interface DispatchSpec<K extends KernelDescriptor> {
  readonly params: ParamValues<K>;
  readonly bindings: { readonly [B in BufferBindingName<K>]: GpuTensor };
  readonly overrides?: OverrideValues<K>;
  /** Workgroup counts; each must be ≤ maxComputeWorkgroupsPerDimension. */
  readonly workgroups: readonly [number, number?, number?];
  readonly label?: string;
}

interface RecordedDispatch {
  readonly kernel: KernelDescriptor;
  readonly pipelineKey: string;
  readonly overrides: Record<string, number>;
  readonly paramsOffset: number;
  readonly paramValues: Readonly<Record<string, number>>;
  readonly bindings: Readonly<Record<string, GpuTensor>>;
  readonly workgroups: [number, number, number];
  readonly label: string;
}

interface ReadyDispatch {
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly usesStep: boolean;
  readonly workgroups: [number, number, number];
  readonly kernel: string;
  readonly label: string;
}

/**
 * Compiles and caches pipelines, keyed by `name|act|sorted overrides`, with explicit bind-group layouts derived from
 * the catalog so the step bind group (group 1) can be shared by every pipeline.
 */
export class PipelineCache {
  readonly stepLayout: GPUBindGroupLayout;
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();

  constructor(readonly ctx: DeviceContext, readonly act: Prelude) {
    if (act === 'f16' && !ctx.hasF16) throw new Error('f16 activations need the shader-f16 feature, which this device lacks');
    this.stepLayout = ctx.device.createBindGroupLayout({
      label: 'step',
      entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } }],
    });
  }

  layoutFor(kernel: KernelDescriptor): GPUBindGroupLayout {
    let layout = this.layouts.get(kernel.name);
    if (!layout) {
      layout = this.ctx.device.createBindGroupLayout({
        label: kernel.name,
        entries: Object.values(kernel.bindings).map(({ binding, kind }) => ({
          binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: kind },
        })),
      });
      this.layouts.set(kernel.name, layout);
    }
    return layout;
  }

  static key(kernel: KernelDescriptor, act: Prelude, overrides: Record<string, number>): string {
    const parts = Object.keys(overrides).sort().map((k) => `${k}=${overrides[k]}`);
    return [kernel.name, `act=${act}`, ...parts].join('|');
  }

  pipeline(kernel: KernelDescriptor, overrides: Record<string, number>): Promise<GPUComputePipeline> {
    const key = PipelineCache.key(kernel, this.act, overrides);
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      const device = this.ctx.device;
      const module = device.createShaderModule({ label: kernel.name, code: shaderCode(this.act, kernel.source) });
      const bindGroupLayouts = kernel.usesStep ? [this.layoutFor(kernel), this.stepLayout] : [this.layoutFor(kernel)];
      pipeline = device.createComputePipelineAsync({
        label: key,
        layout: device.createPipelineLayout({ label: key, bindGroupLayouts }),
        compute: { module, entryPoint: 'main', constants: overrides },
      });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }
}

/** Collects dispatches; `build()` compiles what is missing (in parallel) and creates every bind group once. */
export class PlanBuilder {
  private readonly recorded: RecordedDispatch[] = [];
  private paramsBytes = 0;
  private readonly paramsAlignment: number;

  constructor(readonly cache: PipelineCache, readonly stepBuffer: GPUBuffer, readonly label: string) {
    this.paramsAlignment = cache.ctx.limits.minUniformBufferOffsetAlignment;
  }

  get ctx(): DeviceContext {
    return this.cache.ctx;
  }

  dispatch<K extends KernelDescriptor>(kernel: K, spec: DispatchSpec<K>): void {
    const overrides = { ...kernel.overrides, ...(spec.overrides as Record<string, number> | undefined) };
    const limit = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const workgroups: [number, number, number] = [spec.workgroups[0], spec.workgroups[1] ?? 1, spec.workgroups[2] ?? 1];
    if (workgroups.some((n) => !Number.isInteger(n) || n < 1 || n > limit)) {
      throw new Error(`${kernel.name}: workgroup counts ${workgroups.join('×')} outside 1..${limit}`);
    }
    const bindings = spec.bindings as Record<string, GpuTensor>;
    for (const name of Object.keys(kernel.bindings)) {
      if (name !== 'params' && !bindings[name]) throw new Error(`${kernel.name}: binding '${name}' is missing`);
    }
    const paramsOffset = this.paramsBytes;
    if (kernel.params) this.paramsBytes += Math.ceil(kernel.params.byteSize / this.paramsAlignment) * this.paramsAlignment;
    this.recorded.push({
      kernel,
      pipelineKey: PipelineCache.key(kernel, this.cache.act, overrides),
      overrides,
      paramsOffset,
      paramValues: spec.params as Readonly<Record<string, number>>,
      bindings: { ...bindings },
      workgroups,
      label: spec.label ?? kernel.name,
    });
  }

  async build(): Promise<Plan> {
    const { device } = this.ctx;
    const paramsBuffer = device.createBuffer({
      label: `${this.label}.params`,
      size: Math.max(this.paramsBytes, 16),
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    const arena = new ArrayBuffer(Math.max(this.paramsBytes, 16));
    const view = new DataView(arena);
    for (const d of this.recorded) {
      if (!d.kernel.params) continue;
      const values = d.paramValues;
      for (const [field, { offset, type }] of Object.entries(d.kernel.params.fields)) {
        const value = values[field];
        if (value === undefined || !Number.isFinite(value)) throw new Error(`${d.label}: param '${field}' is missing or not finite`);
        const at = d.paramsOffset + offset;
        if (type === 'f32') view.setFloat32(at, value, true);
        else if (type === 'i32') view.setInt32(at, value, true);
        else view.setUint32(at, value, true);
      }
    }
    device.queue.writeBuffer(paramsBuffer, 0, arena);

    const stepBindGroup = device.createBindGroup({
      label: `${this.label}.step`,
      layout: this.cache.stepLayout,
      entries: [{ binding: 0, resource: { buffer: this.stepBuffer } }],
    });
    const pipelines = await Promise.all(this.recorded.map((d) => this.cache.pipeline(d.kernel, d.overrides)));
    device.pushErrorScope('validation');
    const ready: ReadyDispatch[] = this.recorded.map((d, i) => {
      const entries: GPUBindGroupEntry[] = Object.entries(d.kernel.bindings).map(([name, { binding }]) => {
        if (name === 'params') {
          return { binding, resource: { buffer: paramsBuffer, offset: d.paramsOffset, size: d.kernel.params!.byteSize } };
        }
        const t = d.bindings[name]!;
        return { binding, resource: { buffer: t.buffer, offset: t.byteOffset, size: t.byteLength } };
      });
      return {
        pipeline: pipelines[i]!,
        bindGroup: device.createBindGroup({ label: d.label, layout: this.cache.layoutFor(d.kernel), entries }),
        usesStep: d.kernel.usesStep,
        workgroups: d.workgroups,
        kernel: d.kernel.name,
        label: d.label,
      };
    });
    const error = await device.popErrorScope();
    if (error) {
      // Nothing else owns the params buffer yet: without this, a failed build (e.g. a bind group over a buffer that
      // failed to allocate) would leak it.
      paramsBuffer.destroy();
      throw new Error(`${this.label}: building the plan failed: ${error.message}`);
    }
    return new Plan(this.label, ready, stepBindGroup, paramsBuffer);
  }
}

export class Plan {
  /** Per dispatch: whether its pipeline differs from the previous dispatch's (decided once, not per token). */
  private readonly pipelineChanges: readonly boolean[];
  private readonly usesStep: boolean;

  constructor(
    readonly label: string,
    private readonly dispatches: readonly ReadyDispatch[],
    private readonly stepBindGroup: GPUBindGroup,
    private readonly paramsBuffer: GPUBuffer,
  ) {
    this.pipelineChanges = dispatches.map((d, i) => i === 0 || dispatches[i - 1]!.pipeline !== d.pipeline);
    this.usesStep = dispatches.some((d) => d.usesStep);
  }

  get dispatchCount(): number {
    return this.dispatches.length;
  }

  /** Kernel name and label of every dispatch, in order (profiling, reports). */
  get dispatchInfo(): readonly { readonly kernel: string; readonly label: string }[] {
    return this.dispatches.map(({ kernel, label }) => ({ kernel, label }));
  }

  /**
   * Records every dispatch into one compute pass. The step bind group (group 1, the same layout in every pipeline)
   * is set once per pass, and a pipeline only when it changes: bind-group state persists across setPipeline.
   */
  encode(pass: GPUComputePassEncoder): void {
    if (this.usesStep) pass.setBindGroup(1, this.stepBindGroup);
    const changes = this.pipelineChanges;
    const dispatches = this.dispatches;
    for (let i = 0; i < dispatches.length; i++) {
      const d = dispatches[i]!;
      if (changes[i]) pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      const [x, y, z] = d.workgroups;
      pass.dispatchWorkgroups(x, y, z);
    }
  }

  /**
   * Profiling only: each dispatch in its own compute pass, with the pass descriptor `passFor(i)` gives (e.g.
   * timestamp writes around dispatch i). Never on the per-token path: a pass per dispatch costs far more to encode.
   */
  encodeEach(encoder: GPUCommandEncoder, passFor: (index: number) => GPUComputePassDescriptor): void {
    this.dispatches.forEach((d, i) => {
      const pass = encoder.beginComputePass(passFor(i));
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      if (d.usesStep) pass.setBindGroup(1, this.stepBindGroup);
      pass.dispatchWorkgroups(...d.workgroups);
      pass.end();
    });
  }

  destroy(): void {
    this.paramsBuffer.destroy();
  }
}
