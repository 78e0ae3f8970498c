// The fusions (fuse.ts, docs/performance.md "Fusions") on whole models: the same file loaded with every fusion and
// with none gives the same logits on every kernel path — prefill chunks with every row's logits (scoring), the
// last-row prefill plan, decode steps, greedy ids and perplexity. Every fused kernel computes each weight row's sum
// as the unfused one does and applies the epilogue to the rounded value (lib/body/epilogue.wgsl), so the results are
// compared for exact equality. stories260K (q_dim 64, kv_dim 32) cannot fuse q/k/v (the v view of a decode step
// would start 384 bytes in, off the 256-byte binding alignment); the pad256 files (q_dim 256, kv_dim 128) fuse
// everything, and pad256-q4_k_m keeps q/k/v apart in the layers whose attn_v is Q6_K (llama.cpp's Q4_K_M mix).
import { bytesSource, readGguf, type GgufFile } from '@qgpu/formats';
import type { DeviceContext } from '@qgpu/gpu';
import { readSharedBytes, testGpu } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import type { KernelPath } from '../ops.ts';
import { perplexityOfTokens } from '../perplexity.ts';
import { llamaConfigFromGguf } from './config.ts';
import { qkvRegionAligned } from './fuse.ts';
import { LlamaModel } from './model.ts';
import { GGUF_NAMES } from './names.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;
const hasDp4a = !!gpu.ctx && ctx.wgslFeatures.has('packed_4x8_integer_dot_product');

const open = (name: string) => readGguf(bytesSource(readSharedBytes(`models/stories260K/${name}`), name));
const CHUNK = 8;
// 13 prompt tokens: one full chunk of 8 and a partial one of 5.
const PROMPT = [1, 403, 407, 261, 378, 300, 45, 9, 77, 12, 99, 400, 33];
const DECODE_STEPS = 4;

/** Which layers the loader may fuse, from the file's stored types alone (the rule of fuse.ts, for GGUF blocks). */
function expectedFusedLayers(file: GgufFile): { qkv: boolean[]; gateUp: boolean[] } {
  const config = llamaConfigFromGguf(file);
  const type = (name: string) => file.tensors.find((t) => t.name === name)!.typeName;
  const same = (...names: string[]) => new Set(names.map(type)).size === 1;
  const aligned = qkvRegionAligned(config, [1, CHUNK], ctx.device.limits.minStorageBufferOffsetAlignment);
  const layers = Array.from({ length: config.nLayers }, (_, i) => GGUF_NAMES.layer(i));
  return { qkv: layers.map((n) => aligned && same(n.wq, n.wk, n.wv)), gateUp: layers.map((n) => same(n.wGate, n.wUp)) };
}

/** Every logits row and id the model gives: prefill (all rows, and last row), DECODE_STEPS decode steps, perplexity. */
async function run(model: LlamaModel) {
  const all = await model.forward(PROMPT, 0, 'all');
  const last = await model.forward(PROMPT, 0, 'last');
  const decode: Float32Array[] = [];
  const ids = [last.next];
  for (let s = 0; s < DECODE_STEPS; s++) {
    const step = await model.forward([ids[s]!], PROMPT.length + s, 'last');
    decode.push(step.logits[0]!);
    ids.push(step.next);
  }
  const scorer = { contextLength: model.contextLength, vocabSize: model.config.vocabSize, forward: model.forward.bind(model) };
  const { ppl } = await perplexityOfTokens(scorer, [...PROMPT, ...PROMPT.slice(1, 12)], 1, { context: 24 });
  return { rows: [...all.logits, ...last.logits, ...decode], ids, ppl };
}

/** Elements that differ (bitwise, NaN equal to NaN) between two lists of rows, and the largest difference. */
function differences(a: readonly Float32Array[], b: readonly Float32Array[]): { count: number; maxAbs: number } {
  let count = 0;
  let maxAbs = 0;
  a.forEach((row, r) => row.forEach((value, i) => {
    const other = b[r]![i]!;
    if (!Object.is(value, other)) {
      count++;
      maxAbs = Math.max(maxAbs, Math.abs(value - other));
    }
  }));
  return { count, maxAbs };
}

async function compareFusedWithUnfused(name: string, kernelPath: KernelPath) {
  const file = await open(name);
  const options = { kernelPath, contextLength: 64, prefillChunk: CHUNK };
  const unfused = await LlamaModel.load(ctx, file, { ...options, fuse: false });
  const fused = await LlamaModel.load(ctx, file, options);
  const expected = expectedFusedLayers(file);
  expect(fused.weights.layers.map((l) => 'fused' in l.qkv)).toEqual(expected.qkv);
  expect(fused.weights.layers.map((l) => 'fused' in l.gateUp)).toEqual(expected.gateUp);
  expect(unfused.weights.layers.every((l) => !('fused' in l.qkv) && !('fused' in l.gateUp))).toBe(true);
  // Dequant path: each layer loses add_inplace ×2, silu_mul and the up linear; each fused QKV layer two linears more.
  const fusedQkvLayers = expected.qkv.filter(Boolean).length;
  const nLayers = fused.weights.layers.length;
  if (kernelPath === 'dequant') expect(unfused.decodeDispatches - fused.decodeDispatches).toBe(4 * nLayers + 2 * fusedQkvLayers);
  const [a, b] = [await run(unfused), await run(fused)];
  unfused.destroy();
  fused.destroy();
  const diff = differences(b.rows, a.rows);
  console.info(`${gpu.adapter} ${name} ${kernelPath}: fused q/k/v in ${fusedQkvLayers}/${nLayers} layers; `
    + `${diff.count} of ${a.rows.length}×${a.rows[0]!.length} logits differ (max |Δ| ${diff.maxAbs}); ppl ${a.ppl} vs ${b.ppl}`);
  expect(diff).toEqual({ count: 0, maxAbs: 0 });
  expect(b.ids).toEqual(a.ids);
  expect(b.ppl).toBe(a.ppl);
}

const FILES = [
  'stories260K-f32.gguf', 'stories260K-q8_0.gguf', 'stories260K-q4_0.gguf', 'stories260K-q4_k_m.gguf',
  'stories260K-pad256-f32.gguf', 'stories260K-pad256-q8_0.gguf', 'stories260K-pad256-q4_0.gguf', 'stories260K-pad256-q4_k_m.gguf',
];
const PATHS: KernelPath[] = ['dequant', 'dp4a', 'lut'];
// SwiftShader runs models ~10× slower than lavapipe: there, the two unpadded 4-bit files on the dequant and lut paths
// (the kernels and epilogues are the same WGSL on every adapter; lavapipe runs the whole matrix).
const SWIFTSHADER_SUBSET = new Set(['stories260K-q4_0.gguf dequant', 'stories260K-q4_k_m.gguf lut']);
const CASES = FILES.flatMap((file) => PATHS.map((path) => [file, path] as const))
  .filter(([file, path]) => gpu.adapter !== 'swiftshader' || SWIFTSHADER_SUBSET.has(`${file} ${path}`));
const subsetNote = gpu.adapter === 'swiftshader' ? ' (SwiftShader: a subset; lavapipe runs every file and path)' : '';

describe.skipIf(!gpu.ctx)(`fused vs unfused models on ${gpu.adapter}${gpu.ctx ? subsetNote : ` (skipped: ${gpu.reason})`}`, () => {
  it.each(CASES)('%s on %s: fused and unfused give bit-identical logits (prefill rows, last row, decode), ids and perplexity', async (name, path) => {
    if (path === 'dp4a' && !hasDp4a) {
      console.warn(`skipped ${name} dp4a: the adapter lacks packed_4x8_integer_dot_product`);
      return;
    }
    await compareFusedWithUnfused(name, path);
  }, 600_000);

  it('each fusion switches off on its own: residual only, gate/up only, q/k/v only', async () => {
    const file = await open('stories260K-pad256-q4_0.gguf');
    const load = (fuse: { qkv: boolean; gateUp: boolean; residual: boolean }) => LlamaModel.load(ctx, file, { contextLength: 64, prefillChunk: CHUNK, fuse });
    const none = await load({ qkv: false, gateUp: false, residual: false });
    const base = none.decodeDispatches;
    const nLayers = none.weights.layers.length;
    none.destroy();
    // Per layer: residual removes 2 add_inplace; gateUp the up linear and silu_mul; qkv the k and v linears.
    for (const [fuse, saved] of [
      [{ qkv: false, gateUp: false, residual: true }, 2],
      [{ qkv: false, gateUp: true, residual: false }, 2],
      [{ qkv: true, gateUp: false, residual: false }, 2],
      [{ qkv: true, gateUp: true, residual: true }, 6],
    ] as const) {
      const model = await load(fuse);
      expect([model.fusions, base - model.decodeDispatches]).toEqual([fuse, saved * nLayers]);
      expect(model.weights.layers.every((l) => ('fused' in l.qkv) === fuse.qkv && ('fused' in l.gateUp) === fuse.gateUp)).toBe(true);
      expect(model.workspace.up === undefined).toBe(fuse.gateUp);
      model.destroy();
    }
  }, 600_000);
});
