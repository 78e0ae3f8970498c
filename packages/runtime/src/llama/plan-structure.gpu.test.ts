// Structural properties of the per-token path (issue #7), counted on a wrapped device: one queue.submit per decode
// token, no GPU object created per token once the model is loaded, a 4-byte greedy readback, and the same plan
// (pipelines and bind groups, object for object) replayed for every token. Also: the last-row prefill plan, and
// vocabulary matrices split over several bindings (a small artificial binding limit) give the unsplit results.
import { bytesSource, readGguf } from '@qgpu/formats';
import type { DeviceContext } from '@qgpu/gpu';
import { expectClose, loadReference, readSharedBytes, testGpu, TOLERANCES } from '@qgpu/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { LlamaModel } from './model.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const openModel = (name: string) => readGguf(bytesSource(readSharedBytes(`models/stories260K/${name}`), name));

/** Device methods that create a GPU object (command encoders are counted apart: see the decode test). */
const CREATORS = [
  'createBuffer', 'createBindGroup', 'createBindGroupLayout', 'createPipelineLayout', 'createShaderModule',
  'createComputePipeline', 'createComputePipelineAsync', 'createQuerySet', 'createTexture', 'createSampler',
] as const;

interface Counts {
  created: Record<string, number>;
  commandEncoders: number;
  submits: number;
  writeBufferBytes: number[];
  /** Bytes made readable by each mapAsync (its size argument, else the buffer's size minus the offset). */
  mapBytes: number[];
  /** Per encoded pass: the pipelines and bind groups set, in order. */
  passes: { pipelines: GPUComputePipeline[]; bindGroups: GPUBindGroup[]; dispatches: number }[];
}

function zeroCounts(): Counts {
  return { created: Object.fromEntries(CREATORS.map((c) => [c, 0])), commandEncoders: 0, submits: 0, writeBufferBytes: [], mapBytes: [], passes: [] };
}

/**
 * A DeviceContext whose device and queue count every call that creates an object, encodes or submits. The wrapper
 * forwards each call to the real object (Dawn checks `this`), so the model under test runs unchanged. Buffers, passes
 * and encoders are Dawn objects passed back into native calls, so those are observed through their prototypes.
 */
function countingContext(base: DeviceContext): { ctx: DeviceContext; counts: { current: Counts }; restore: () => void } {
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

describe.skipIf(!gpu.ctx)(`decode plan structure on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  const reference = loadReference('stories260K-f32');
  const prompt = reference.greedy.prompt_token_ids;
  let restore: (() => void) | undefined;
  afterEach(() => restore?.());

  it('16 greedy decode tokens: 1 submit, 1 pass, 0 objects, one 8-byte step write and one 4-byte readback each', async () => {
    const wrapped = countingContext(ctx);
    restore = wrapped.restore;
    const model = await LlamaModel.load(wrapped.ctx, await openModel('stories260K-f32.gguf'), { contextLength: 128, prefillChunk: 8 });
    const loadCounts = wrapped.counts.current;
    expect(loadCounts.created.createComputePipeline).toBe(0);
    expect(loadCounts.created.createComputePipelineAsync).toBeGreaterThan(0);
    let next = (await model.forward(prompt, 0)).next;

    const tokens = 16;
    wrapped.counts.current = zeroCounts();
    const ids: number[] = [];
    for (let i = 0; i < tokens; i++) {
      ids.push(next);
      next = await model.decodeGreedy(prompt.length + i);
    }
    const c = wrapped.counts.current;
    expect(c.created).toEqual(Object.fromEntries(CREATORS.map((name) => [name, 0])));
    expect(c.submits).toBe(tokens);
    // A command encoder is single-use (finish() ends it) and the only way to record work in WebGPU, so one per
    // submit is the floor; it is a transient recording object, not a GPU resource, and is counted apart.
    expect(c.commandEncoders).toBe(tokens);
    expect(c.mapBytes).toEqual(Array.from({ length: tokens }, () => 4));
    expect(c.writeBufferBytes).toEqual(Array.from({ length: tokens }, () => 8));
    expect(c.passes).toHaveLength(tokens);
    // Plan reuse: every token replays the same pipelines and bind groups, object for object.
    for (const pass of c.passes) {
      expect(pass.dispatches).toBe(model.decodeDispatches);
      expect(pass.pipelines).toHaveLength(c.passes[0]!.pipelines.length);
      pass.pipelines.forEach((pipeline, i) => expect(pipeline).toBe(c.passes[0]!.pipelines[i]));
      pass.bindGroups.forEach((group, i) => expect(group).toBe(c.passes[0]!.bindGroups[i]));
    }
    // The ids are the real greedy continuation (llama.cpp's), so the counted path is the working one.
    expect(ids).toEqual(reference.greedy.generated_ids.slice(0, tokens));
    model.destroy();
  });

  it('prefill: one submit per chunk, the ids written once per chunk, one 4-byte readback at the end', async () => {
    const wrapped = countingContext(ctx);
    restore = wrapped.restore;
    const chunk = 4;
    const model = await LlamaModel.load(wrapped.ctx, await openModel('stories260K-f32.gguf'), { contextLength: 128, prefillChunk: chunk });
    wrapped.counts.current = zeroCounts();
    const { next } = await model.forward(prompt, 0);
    const c = wrapped.counts.current;
    const chunks = Math.ceil(prompt.length / chunk);
    expect(c.submits).toBe(chunks);
    expect(c.created).toEqual(Object.fromEntries(CREATORS.map((name) => [name, 0])));
    expect(c.mapBytes).toEqual([4]);
    // Per chunk: the token ids (≤ chunk × 4 bytes) and the 8-byte step.
    expect(c.writeBufferBytes).toHaveLength(2 * chunks);
    expect(next).toBe(reference.greedy.generated_ids[0]);
    model.destroy();
  });
});

describe.skipIf(!gpu.ctx)(`last-row prefill and split vocabulary matrices on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  const reference = loadReference('stories260K-f32');
  const tokens = [...reference.greedy.prompt_token_ids, ...reference.greedy.generated_ids.slice(0, 9)];

  it('the last-row prefill plan gives the all-rows plan\'s last logits and the same next token', async () => {
    const model = await LlamaModel.load(ctx, await openModel('stories260K-f32.gguf'), { contextLength: 64, prefillChunk: 8 });
    const all = await model.forward(tokens, 0, 'all');
    const last = await model.forward(tokens, 0, 'last');
    expect(last.logits).toHaveLength(1);
    expectClose(last.logits[0]!, all.logits[all.logits.length - 1]!, TOLERANCES.logitsGpuVsReference, 'last row vs all rows');
    expect(last.next).toBe(all.next);
    expect(model.prefillDispatches).toBeLessThan(model.decodeDispatches * 8);
    model.destroy();
  });

  // pad256-q4_0 ties a Q4_0 512 × 256 embedding (64 KiB of qs); a 16 KiB limit splits it into 4 pieces of 128 rows,
  // so the gather takes the offset_ids path and the output projection runs one GEMV per piece.
  it.each([['stories260K-pad256-q4_0.gguf', 16 * 1024], ['stories260K-f32.gguf', 16 * 1024]])(
    '%s with a %i-byte binding limit: same greedy ids and logits as unsplit', async (name, limit) => {
      const whole = await LlamaModel.load(ctx, await openModel(name), { contextLength: 64, prefillChunk: 8 });
      const split = await LlamaModel.load(ctx, await openModel(name), { contextLength: 64, prefillChunk: 8, maxBindingBytes: limit });
      expect(whole.weights.output.pieces).toHaveLength(1);
      expect(split.weights.output.pieces.length).toBeGreaterThan(1);
      expect(split.weights.tokenEmbedding.pieces.length).toBeGreaterThan(1);
      // Last-row logits: the same GEMV kernel on the same rows, and an exact gather: bit-identical.
      const a = await whole.forward(tokens, 0, 'last');
      const b = await split.forward(tokens, 0, 'last');
      expect(b.logits[0]).toEqual(a.logits[0]);
      // Greedy decode from there.
      const ids = async (m: LlamaModel, first: number) => {
        const out = [first];
        for (let i = 0; i < 8; i++) out.push(await m.decodeGreedy(tokens.length + i));
        return out;
      };
      expect(await ids(split, b.next)).toEqual(await ids(whole, a.next));
      // All rows: per-token GEMVs per piece vs the unsplit GEMM (summation order differs).
      const allA = await whole.forward(tokens, 0, 'all');
      const allB = await split.forward(tokens, 0, 'all');
      allA.logits.forEach((row, i) => expectClose(allB.logits[i]!, row, TOLERANCES.logitsGpuVsReference, `row ${i}`));
      whole.destroy();
      split.destroy();
    });
});
