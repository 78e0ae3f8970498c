// The issue #4 long-context experiment: perplexity (llama-perplexity protocol) of stories260K (trained context 512) on
// packages/bench/data/tinystories-long.txt at contexts beyond the trained one, with plain RoPE extrapolation, linear
// position interpolation and 3D-RPE in both modes. One process, one device; results are appended to the JSON file
// after every run, so an interrupted sweep keeps what it measured.
//   node --import tsx packages/bench/src/long-context.ts [--adapter lavapipe] [--tokens 4096] [--contexts 512,1024,2048]
//        [--out packages/bench/results/long-context-<adapter>.json]
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createDeviceContext } from '@qgpu/gpu';
import { nodeGpu, type NodeAdapterName } from '@qgpu/gpu/node';
import { sharedPath } from '@qgpu/testing';
import { createEngine, type PositionEncoding } from '@qgpu/runtime';

const { values } = parseArgs({
  options: {
    adapter: { type: 'string', default: 'lavapipe' },
    tokens: { type: 'string', default: '4096' },
    contexts: { type: 'string', default: '512,1024,2048' },
    chunks: { type: 'string', default: '128,256,384,512' },
    out: { type: 'string' },
  },
});
const adapter = values.adapter as NodeAdapterName;
const out = values.out ?? `packages/bench/results/long-context-${adapter}.json`;
const textPath = 'packages/bench/data/tinystories-long.txt';
const modelPath = sharedPath('models/stories260K/stories260K-f32.gguf');
const trainedContext = 512;
const chunkSizes = values.chunks.split(',').map(Number);

/**
 * The encodings scored at one context: RoPE, linear ×2 and ×4, 3D-RPE Eq. 4 (± Theorem 1) and chunked per chunk size.
 * Within the trained context only RoPE and the 3D-RPE chunkings smaller than it (a control: what chunking alone does).
 */
function encodingsFor(context: number): { name: string; encoding: PositionEncoding }[] {
  if (context <= trainedContext) {
    return [
      { name: 'rope', encoding: { type: 'rope' } },
      ...chunkSizes.filter((c) => c < context).flatMap((c) => [
        { name: `3d-rpe eq4 c=${c}`, encoding: { type: '3d-rpe', chunkSize: c, mode: 'eq4' } as const },
        { name: `3d-rpe chunked c=${c}`, encoding: { type: '3d-rpe', chunkSize: c, mode: 'chunked' } as const },
      ]),
    ];
  }
  const list: { name: string; encoding: PositionEncoding }[] = [
    { name: 'rope (extrapolation)', encoding: { type: 'rope' } },
    { name: 'linear ×2', encoding: { type: 'linear', factor: 2 } },
    { name: 'linear ×4', encoding: { type: 'linear', factor: 4 } },
  ];
  for (const c of chunkSizes) list.push({ name: `3d-rpe eq4 c=${c}`, encoding: { type: '3d-rpe', chunkSize: c, mode: 'eq4' } });
  for (const c of chunkSizes) {
    // Theorem 1 needs ⌈L / ⌈L_p/c⌉⌉ ≤ L_p; other chunk sizes cannot interpolate this context.
    if (Math.ceil(context / Math.ceil(trainedContext / c)) <= trainedContext) {
      list.push({ name: `3d-rpe eq4+PI c=${c}`, encoding: { type: '3d-rpe', chunkSize: c, mode: 'eq4', interpolate: true } });
    }
  }
  for (const c of chunkSizes) list.push({ name: `3d-rpe chunked c=${c}`, encoding: { type: '3d-rpe', chunkSize: c, mode: 'chunked' } });
  return list;
}

const ctx = await createDeviceContext(nodeGpu(adapter));
const text = readFileSync(textPath, 'utf8');
const maxTokens = Number(values.tokens);
const report = {
  what: 'stories260K-f32 perplexity (llama-perplexity protocol) beyond its trained context of 512',
  command: `node --import tsx packages/bench/src/long-context.ts --adapter ${adapter} --tokens ${maxTokens} --contexts ${values.contexts} --chunks ${values.chunks}`,
  device: ctx.adapterInfo,
  text: textPath,
  runs: [] as unknown[],
};
for (const context of values.contexts.split(',').map(Number)) {
  for (const { name, encoding } of encodingsFor(context)) {
    const engine = createEngine({ deviceContext: ctx });
    await engine.load(new Uint8Array(readFileSync(modelPath)), { contextLength: context, positionEncoding: encoding });
    const started = performance.now();
    // The same first maxTokens tokens at every context: ⌊maxTokens / context⌋ windows.
    const r = await engine.perplexity(text, { context, maxWindows: Math.floor(maxTokens / context) });
    const seconds = (performance.now() - started) / 1000;
    await engine.unload();
    report.runs.push({ name, encoding, ...r, seconds });
    writeFileSync(out, `${JSON.stringify(report, null, 1)}\n`);
    console.log(`${context}\t${name}\tppl ${r.ppl.toFixed(4)} ± ${r.pplStdErr.toFixed(4)}\t${r.windows} windows\t${seconds.toFixed(1)} s`);
  }
}
process.exit(0);
