// Structural properties of the per-token path (issue #7), counted on a wrapped device: one queue.submit per decode
// token, no GPU object created per token once the model is loaded, a 4-byte greedy readback, and the same plan
// (pipelines and bind groups, object for object) replayed for every token. Also: the last-row prefill plan, and
// vocabulary matrices split over several bindings (a small artificial binding limit) give the unsplit results.
import { bytesSource, readGguf } from '@qgpu/formats';
import { countingContext, CREATORS, zeroCounts, type DeviceContext } from '@qgpu/gpu';
import { expectClose, loadReference, readSharedBytes, testGpu, TOLERANCES } from '@qgpu/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { LlamaModel } from './model.ts';
import { qkvRegionAligned } from './fuse.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const openModel = (name: string) => readGguf(bytesSource(readSharedBytes(`models/stories260K/${name}`), name));
// The split and last-row comparisons load two models and run every plan: minutes on SwiftShader on this machine,
// and the code they test (plan building, offsets, the row-split ops) is adapter-independent; lavapipe runs them.
const heavySkip = gpu.adapter === 'swiftshader' ? ' (lavapipe only: two-model comparisons take minutes on SwiftShader; the plan code is adapter-independent)' : '';
/** SwiftShader replays the 16 decode tokens ~20× slower than lavapipe. */
const MODEL_TEST_MS = 300_000;
/** Decode dispatches outside the layers: embedding gather; final rms_norm, output linear, argmax (one piece each). */
const PLAN_EDGES = 4;
/**
 * Decode dispatches per layer on the dequant path with every fusion (docs/performance.md "Fusions"): rms_norm, the
 * q/k/v linear (split epilogue), rope q, rope k, kv_write, attention decode + reduce, the output linear (add
 * epilogue), rms_norm, the gate/up linear (glu epilogue), the down linear (add epilogue). Unfused: 17 (q, k and v
 * apart, proj + add_inplace twice, gate and up apart + silu_mul).
 */
const FUSED_LAYER_DISPATCHES = 11;

describe.skipIf(!gpu.ctx)(`decode plan structure on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  const reference = loadReference('stories260K-f32');
  const prompt = reference.greedy.prompt_token_ids;
  let restore: (() => void) | undefined;
  afterEach(() => restore?.());

  it('16 greedy decode tokens: 1 submit, 1 pass, 0 objects, one 8-byte step write and one 4-byte readback each', { timeout: MODEL_TEST_MS }, async () => {
    const wrapped = countingContext(ctx);
    restore = wrapped.restore;
    const model = await LlamaModel.load(wrapped.ctx, await openModel('stories260K-f32.gguf'), { contextLength: 128, prefillChunk: 8 });
    // stories260K fuses q, k and v only where the device's storage offset alignment admits its views (the one-token
    // v view starts 384 bytes in: lavapipe's 16 does, a 256-byte alignment does not; fuse.ts qkvRegionAligned);
    // apart, they cost 2 dispatches more per layer.
    const qkvFused = qkvRegionAligned(model.config, [1, 8], ctx.device.limits.minStorageBufferOffsetAlignment);
    expect(model.decodeDispatches).toBe(PLAN_EDGES + (FUSED_LAYER_DISPATCHES + (qkvFused ? 0 : 2)) * model.config.nLayers);
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

  it.skipIf(heavySkip !== '')(`every fusion (pad256-q4_0): ${FUSED_LAYER_DISPATCHES} dispatches per layer (17 unfused), still 1 submit and 0 objects per token${heavySkip}`, { timeout: MODEL_TEST_MS }, async () => {
    const wrapped = countingContext(ctx);
    restore = wrapped.restore;
    const file = await openModel('stories260K-pad256-q4_0.gguf');
    const unfused = await LlamaModel.load(wrapped.ctx, file, { contextLength: 64, prefillChunk: 8, fuse: false });
    const nLayers = unfused.config.nLayers;
    expect(unfused.decodeDispatches).toBe(PLAN_EDGES + 17 * nLayers);
    unfused.destroy();
    const model = await LlamaModel.load(wrapped.ctx, file, { contextLength: 64, prefillChunk: 8 });
    expect(model.decodeDispatches).toBe(PLAN_EDGES + FUSED_LAYER_DISPATCHES * nLayers);
    let next = (await model.forward(prompt, 0)).next;
    const tokens = 4;
    wrapped.counts.current = zeroCounts();
    for (let i = 0; i < tokens; i++) next = await model.decodeGreedy(prompt.length + i);
    const c = wrapped.counts.current;
    expect(next).toBeLessThan(model.config.vocabSize);
    expect(c.created).toEqual(Object.fromEntries(CREATORS.map((name) => [name, 0])));
    expect([c.submits, c.commandEncoders, c.passes.length]).toEqual([tokens, tokens, tokens]);
    expect(c.passes.map((pass) => pass.dispatches)).toEqual(Array.from({ length: tokens }, () => model.decodeDispatches));
    model.destroy();
  });

  it('prefill: one submit per chunk, the ids written once per chunk, one 4-byte readback at the end', { timeout: MODEL_TEST_MS }, async () => {
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

describe.skipIf(!gpu.ctx || heavySkip !== '')(`last-row prefill and split vocabulary matrices on ${gpu.adapter}${gpu.ctx ? heavySkip : ` (skipped: ${gpu.reason})`}`, () => {
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
