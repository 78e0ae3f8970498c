// A Hugging Face safetensors model loads in headless Chromium, is quantized on load inside the engine worker, and
// generates. The model is stories260K converted at test time from the shared F32 GGUF to an HF checkpoint
// (config.json + model.safetensors, q/k rows in HF's rotate_half order) and served by the demo's /local-models/
// route from a self-ignoring folder; its SentencePiece tokenizer comes from the shared GGUF's header. RTN at 8 bits
// quantizes exactly as llama.cpp's llama-quantize did for stories260K-q8_0.gguf, so the ids must be that file's.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { bytesSource, readGguf } from '../../packages/formats/src/index.ts';
import { hfCheckpointFromGguf } from '../../packages/runtime/src/llama/hf-convert.ts';
import { loadGreedyReference, requireAdapter, sharedDir } from './support.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
// The demo serves QGPU_MODELS_DIR (default: <repo>/models) at /local-models/ (apps/demo/vite.config.ts).
const modelsDir = process.env.QGPU_MODELS_DIR ? resolve(process.env.QGPU_MODELS_DIR) : resolve(repoRoot, 'models');
const FIXTURE = 'qgpu-e2e-stories260K-hf';
/** Bytes of the F32 model's tensors, for judging what quantizing saved. */
let f32WeightBytes = 0;

// The page does not need the demo's UI, only its origin: a same-origin page where the engine worker can run, with
// the CSP (Trusted Types for Worker URLs) bypassed so the test can create the worker itself.
test.use({ bypassCSP: true });

test.beforeAll(async () => {
  const name = 'stories260K-f32.gguf';
  const gguf = await readGguf(bytesSource(new Uint8Array(readFileSync(resolve(sharedDir, 'models/stories260K', name))), name));
  const { config, safetensors } = await hfCheckpointFromGguf(gguf, 'F32');
  f32WeightBytes = gguf.tensors.reduce((sum, t) => sum + t.byteLength, 0);
  const dir = resolve(modelsDir, FIXTURE);
  mkdirSync(dir, { recursive: true });
  // A .gitignore of '*' ignores the folder's whole content, itself included: nothing generated can be committed.
  writeFileSync(resolve(dir, '.gitignore'), '*\n');
  writeFileSync(resolve(dir, 'config.json'), JSON.stringify(config, null, 2));
  writeFileSync(resolve(dir, 'model.safetensors'), safetensors);
});

interface PageRun {
  readonly ids: number[];
  readonly text: string;
  readonly phases: string[];
  readonly weightBytes: number;
  readonly error?: string;
}

/** Loads the served HF model in a fresh engine worker with `quantize` and generates greedily. */
async function runInWorker(page: Page, quantize: { method: 'rtn' | 'sinq'; bits: number; group?: number }, prompt: string, maxTokens: number): Promise<PageRun> {
  await page.goto('/models/index.json');
  const workerClient = `/@fs${repoRoot}packages/worker/src/index.ts`;
  return page.evaluate(async ({ workerClient, fixture, quantize, prompt, maxTokens }) => {
    const { createWorkerEngine } = (await import(workerClient)) as typeof import('../../packages/worker/src/index.ts');
    const worker = new Worker('/src/engine.worker.ts', { type: 'module', name: 'qgpu-engine' });
    const engine = createWorkerEngine(worker);
    const phases: string[] = [];
    try {
      const info = await engine.load({
        safetensors: `/local-models/${fixture}/model.safetensors`,
        config: `/local-models/${fixture}/config.json`,
        tokenizer: '/models/stories260K/stories260K-f32.gguf',
        name: fixture,
      }, { quantize, onProgress: (p) => { if (phases.at(-1) !== p.phase) phases.push(p.phase); } });
      const result = await engine.generate(prompt, { maxTokens, temperature: 0 });
      return { ids: result.generatedIds, text: result.text, phases, weightBytes: info.weightBytes };
    } catch (error) {
      return { ids: [], text: '', phases, weightBytes: 0, error: String(error) };
    } finally {
      worker.terminate();
    }
  }, { workerClient, fixture: FIXTURE, quantize, prompt, maxTokens });
}

test('safetensors model quantized on load (RTN 8-bit) in the worker generates llama.cpp Q8_0’s 64 greedy ids', async ({ page, context }) => {
  await requireAdapter(context);
  const reference = loadGreedyReference('stories260K-q8_0');
  const run = await runInWorker(page, { method: 'rtn', bits: 8 }, reference.prompt, 64);
  expect(run.error).toBeUndefined();
  expect(run.phases).toEqual(expect.arrayContaining(['header', 'weights', 'ready']));
  expect(run.ids).toEqual(reference.generated_ids);
  expect(run.text).toBe(reference.text);
});

test('safetensors model quantized on load with SINQ (4-bit, group 64 codes) generates text', async ({ page, context }) => {
  await requireAdapter(context);
  const reference = loadGreedyReference('stories260K-f32');
  const run = await runInWorker(page, { method: 'sinq', bits: 4, group: 64 }, reference.prompt, 24);
  expect(run.error).toBeUndefined();
  expect(run.ids).toHaveLength(24);
  // 4-bit group codes for the linears of width 64; the embedding and ffn_down (width 172, not whole groups) stay F32.
  expect(run.weightBytes).toBeLessThan(0.6 * f32WeightBytes);
  expect(run.text.trim().length).toBeGreaterThan(0);
});
