// The browser side of `pnpm bench --browser`: functions the Playwright driver (src/browser.ts) calls with
// page.evaluate. qgpu runs on the page's WebGPU adapter (SwiftShader in headless Chromium); wllama runs its CPU wasm
// build; onnxruntime-web runs MatMulNBits on WebGPU. Every asset comes from this Vite server (node_modules, model
// files), nothing from the network.
import { Wllama } from '@wllama/wllama';
import { bytesSource, mulberry32 } from '@qgpu/formats';
import { createDeviceContext, type DeviceContext } from '@qgpu/gpu';
import { benchCopy, benchMatmul, copyWordsFor, type Shape } from '../src/cases.ts';
import { benchModel, type ModelBenchOptions, type ModelBenchResult } from '../src/model-bench.ts';
import { matMulNBitsModel } from '../src/onnx-matmulnbits.ts';
import { median } from '../src/timing.ts';

declare const __WLLAMA_WASM__: string;
declare const __ORT_DIST__: string;

const logLines: string[] = [];
function log(line: string): void {
  logLines.push(line);
  document.getElementById('log')!.textContent = logLines.join('\n');
  console.log(line);
}

let ctxPromise: Promise<DeviceContext> | undefined;
const device = () => (ctxPromise ??= createDeviceContext(navigator.gpu));

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

export interface PageQgpuResult {
  readonly adapterInfo: DeviceContext['adapterInfo'];
  readonly features: string[];
  readonly userAgent: string;
  readonly copyGBps: number;
  readonly runs: ModelBenchResult[];
}

async function runQgpu(models: { key: string; url: string }[], bench: Omit<ModelBenchOptions, 'log'>): Promise<PageQgpuResult> {
  const ctx = await device();
  const copy = await benchCopy(ctx, copyWordsFor(2 ** 27, ctx.limits.maxStorageBufferBindingSize), { targetMs: 150, repeats: 3, maxIterations: 50 });
  const copyGBps = copy.bytesMoved / (copy.medianWallUs * 1e3);
  log(`copy roofline ${copyGBps.toFixed(2)} GB/s`);
  const runs: ModelBenchResult[] = [];
  for (const { key, url } of models) {
    const bytes = await fetchBytes(url);
    runs.push(await benchModel(ctx, key, bytesSource(bytes, key), { ...bench, log }));
  }
  return { adapterInfo: ctx.adapterInfo, features: [...ctx.features], userAgent: navigator.userAgent, copyGBps, runs };
}

export interface PageWllamaResult {
  readonly loadMs: number;
  readonly promptTokens: number;
  readonly prefillTokS: number;
  readonly decodeTokens: number;
  readonly decodeTokS: number;
  readonly threads: number;
}

/**
 * wllama's CPU wasm path on the same GGUF: one greedy completion; llama.cpp's own timings give prefill (prompt) and
 * decode (predicted) tokens per second. `words` space-separated words make a prompt of about that many tokens.
 */
async function runWllama(url: string, words: string[], decodeTokens: number, contextLength: number): Promise<PageWllamaResult> {
  const wllama = new Wllama({ default: __WLLAMA_WASM__ }, { suppressNativeLog: true });
  try {
    const blob = new Blob([await fetchBytes(url) as Uint8Array<ArrayBuffer>]);
    const t0 = performance.now();
    await wllama.loadModel([blob], { n_ctx: contextLength, n_batch: 512, seed: 1 });
    const loadMs = performance.now() - t0;
    const response = await wllama.createCompletion({ prompt: words.join(' '), max_tokens: decodeTokens, temperature: 0 });
    const timings = (response as { timings?: { prompt_n: number; prompt_per_second: number; predicted_n: number; predicted_per_second: number } }).timings;
    if (!timings) throw new Error('wllama returned no timings');
    return {
      loadMs,
      promptTokens: timings.prompt_n,
      prefillTokS: timings.prompt_per_second,
      decodeTokens: timings.predicted_n,
      decodeTokS: timings.predicted_per_second,
      threads: wllama.getNumThreads(),
    };
  } finally {
    await wllama.exit();
  }
}

export interface PageOrtResult {
  readonly shape: Shape;
  /**
   * ORT MatMulNBits per run, µs: `runs` session.run calls with the input and output on the GPU (no upload or
   * readback), then one wait for the queue; ORT's per-run CPU work overlaps the GPU's.
   */
  readonly ortRunUs: number;
  /** qgpu matmul_q4_0 per call, µs: N calls in one pass and one submit (benchMatmul's wall time). */
  readonly qgpuCallUs: number;
  /** qgpu's GPU time per call from timestamp queries, µs (null without timestamp-query). */
  readonly qgpuKernelUs: number | null;
}

/**
 * ORT's MatMulNBits vs qgpu's matmul_q4_0 on the same GEMV shapes and adapter. ORT's WebGPU EP (the native one in
 * 1.2x) reports no per-kernel times to JavaScript, so ORT is timed as GPU-resident session runs.
 */
async function runOrt(shapes: Shape[], runs: number): Promise<PageOrtResult[]> {
  const ort = await import('onnxruntime-web/webgpu');
  ort.env.wasm.wasmPaths = __ORT_DIST__;
  ort.env.wasm.numThreads = 1;
  const ctx = await device();
  const out: PageOrtResult[] = [];
  for (const shape of shapes) {
    const next = mulberry32(shape.rows * 31 + shape.cols);
    const nibbles = Uint8Array.from({ length: (shape.rows * shape.cols) / 2 }, () => Math.floor(next() * 256));
    const scales = Float32Array.from({ length: (shape.rows * shape.cols) / 32 }, () => 0.01 + next() * 0.01);
    const session = await ort.InferenceSession.create(matMulNBitsModel(shape.rows, shape.cols, nibbles, scales), {
      executionProviders: ['webgpu'], preferredOutputLocation: 'gpu-buffer',
    });
    const ortDevice = await (ort.env.webgpu.device as unknown as Promise<GPUDevice> | GPUDevice);
    const input = ortDevice.createBuffer({ size: shape.cols * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    ortDevice.queue.writeBuffer(input, 0, Float32Array.from({ length: shape.cols }, () => next() - 0.5));
    const a = ort.Tensor.fromGpuBuffer(input, { dataType: 'float32', dims: [1, shape.cols] });
    const runOnce = async () => {
      const result = await session.run({ A: a });
      for (const t of Object.values(result)) t.dispose();
    };
    await runOnce();
    await ortDevice.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await runOnce();
    await ortDevice.queue.onSubmittedWorkDone();
    const ortRunUs = ((performance.now() - t0) * 1000) / runs;
    await session.release();
    input.destroy();
    const qgpu = await benchMatmul(ctx, 'matmul', 'q4_0', shape, { targetMs: 100, repeats: 3, maxIterations: runs });
    out.push({ shape, ortRunUs, qgpuCallUs: qgpu.medianWallUs, qgpuKernelUs: qgpu.medianGpuUs });
    log(`ORT ${shape.rows}×${shape.cols}: MatMulNBits ${ortRunUs.toFixed(0)} µs/run, qgpu matmul_q4_0 ${qgpu.medianWallUs.toFixed(0)} µs/call`);
  }
  return out;
}

Object.assign(window, { qgpuBench: { runQgpu, runWllama, runOrt } });
document.title = 'qgpu bench ready';
