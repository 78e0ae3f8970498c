// The Chromium half of `pnpm bench --browser`: serves packages/bench/browser/ with Vite on localhost (the peers'
// wasm from node_modules, the model files from disk), drives headless system Chromium (SwiftShader WebGPU) with
// Playwright, and runs qgpu, wllama (CPU wasm) and onnxruntime-web (WebGPU MatMulNBits) in the same page.
import { createReadStream, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Shape } from './cases.ts';
import type { E2eRun } from './e2e.ts';
import type { ModelBenchOptions } from './model-bench.ts';

/** The part of Playwright's API used here (typed locally: @playwright/test is the e2e package's dependency). */
interface PwPage {
  setDefaultTimeout(ms: number): void;
  on(event: 'console', listener: (message: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', listener: (error: Error) => void): void;
  goto(url: string): Promise<unknown>;
  waitForFunction(fn: () => boolean, arg: undefined, options: { timeout: number }): Promise<unknown>;
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
}
interface PwChromium {
  launch(options: { executablePath: string; headless: boolean; args: string[] }): Promise<{ newPage(): Promise<PwPage>; close(): Promise<void> }>;
}
/** What page.ts puts on window. */
interface PageApi {
  runQgpu(models: { key: string; url: string }[], bench: unknown): Promise<unknown>;
  runWllama(url: string, words: string[], decodeTokens: number, contextLength: number): Promise<unknown>;
  runOrt(shapes: Shape[], runs: number): Promise<unknown>;
}

export interface PeerResult {
  readonly name: 'wllama' | 'onnxruntime-web';
  /** Model key (wllama) or GEMV shape rows×cols (onnxruntime-web). */
  readonly model: string;
  readonly decodeTokS: number | null;
  readonly prefillTokS: number | null;
  /** onnxruntime-web: MatMulNBits GPU time and qgpu's matmul_q4_0 on the same shape and adapter, µs. */
  readonly kernelUs?: number;
  readonly qgpuKernelUs?: number;
  readonly note?: string;
  /** Why the peer did not run here, verbatim. */
  readonly skipped?: string;
}

export interface BrowserBenchResult {
  readonly userAgent: string;
  readonly adapterInfo: unknown;
  readonly runs: E2eRun[];
  readonly peers: PeerResult[];
}

export interface BrowserBenchOptions {
  readonly models: readonly string[];
  readonly quick: boolean;
  readonly peers: boolean;
  readonly bench: Omit<ModelBenchOptions, 'log'>;
  readonly perModel: Readonly<Record<string, Partial<Omit<ModelBenchOptions, 'log'>> | undefined>>;
  readonly log: (line: string) => void;
  readonly modelPath: (key: string) => string;
}

const benchRoot = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = join(benchRoot, '..', '..');

/**
 * SwiftShader runs whole models several times slower than lavapipe (docs/environment.md), so the browser run is
 * scaled down further (said in BENCHMARKS.md): stories260K with prompts of at most 128 tokens and 4 decode tokens;
 * the larger shapes with a 16-token prompt, 2 decode tokens, and no all-rows comparison.
 */
function scaledDown(key: string, bench: BrowserBenchOptions['bench'], quick: boolean): BrowserBenchOptions['bench'] {
  if (quick) return bench;
  if (key === 'stories260K') {
    const prompts = bench.promptLengths.filter((n) => n <= 128);
    return { ...bench, promptLengths: prompts.length > 0 ? prompts : [Math.min(...bench.promptLengths)], decodeTokens: Math.min(bench.decodeTokens, 4) };
  }
  return { ...bench, promptLengths: [16], decodeTokens: 2, compareAllLogits: false };
}

/** GEMV shapes for the onnxruntime-web comparison (rows × cols = out × in), from the synthetic models. */
const ORT_SHAPES: Shape[] = [
  { rows: 1536, cols: 576, tokens: 1, note: 'SmolLM2-135M ffn_up/gate' },
  { rows: 576, cols: 1536, tokens: 1, note: 'SmolLM2-135M ffn_down' },
  { rows: 8192, cols: 2048, tokens: 1, note: 'Llama-3.2-1B ffn_up/gate' },
  { rows: 2048, cols: 8192, tokens: 1, note: 'Llama-3.2-1B ffn_down' },
];

/** Words that tokenize to about one token each in the synthetic SentencePiece vocabulary (synth.ts). */
function promptWords(n: number): string[] {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return Array.from({ length: n }, (_, i) => letters[i % 26]! + (i >= 26 ? letters[Math.floor(i / 26) % 26]! : ''));
}

export async function runBrowserBench(options: BrowserBenchOptions): Promise<BrowserBenchResult> {
  const { log } = options;
  const require = createRequire(join(repoRoot, 'e2e', 'package.json'));
  // Playwright is the e2e package's dependency; the system Chromium is used, nothing is downloaded.
  const { chromium } = require('@playwright/test') as { chromium: PwChromium };
  const { createServer } = await import('vite');
  const files = new Map(options.models.map((key) => [key, options.modelPath(key)]));
  const benchModules = join(benchRoot, 'node_modules');
  const server = await createServer({
    configFile: false,
    root: join(benchRoot, 'browser'),
    logLevel: 'warn',
    server: {
      port: 0,
      host: '127.0.0.1',
      hmr: false,
      watch: null,
      // Cross-origin isolation lets wllama use its multi-threaded build (SharedArrayBuffer).
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
      fs: { allow: [repoRoot] },
    },
    // weights.ts takes randomFloats from @qgpu/testing, whose index also loads Node-only fixtures: point the page at
    // the one browser-safe module it needs.
    resolve: { alias: { '@qgpu/testing': join(repoRoot, 'packages', 'testing', 'src', 'random.ts') } },
    define: {
      __WLLAMA_WASM__: JSON.stringify(`/@fs${join(benchModules, '@wllama', 'wllama', 'esm', 'wasm', 'wllama.wasm')}`),
      __ORT_DIST__: JSON.stringify(`/@fs${join(benchModules, 'onnxruntime-web', 'dist')}/`),
    },
    // No dependency pre-bundling and no HMR: a discovery halfway through would reload the page under the benchmark.
    optimizeDeps: { noDiscovery: true, include: [] },
    plugins: [{
      name: 'qgpu-bench-models',
      configureServer(s) {
        s.middlewares.use('/models/', (req, res, next) => {
          const path = files.get(decodeURIComponent((req.url ?? '').replace(/^\//, '')));
          if (!path) return next();
          res.setHeader('Content-Type', 'application/octet-stream');
          res.setHeader('Content-Length', String(statSync(path).size));
          res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
          createReadStream(path).pipe(res);
        });
      },
    }],
  });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('vite did not report a port');
  const url = `http://127.0.0.1:${address.port}/index.html`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(0);
    page.on('console', (m) => { if (m.type() === 'error' || m.text().startsWith('  ')) log(`  [page] ${m.text()}`); });
    page.on('pageerror', (e) => log(`  [page error] ${e.message}`));
    await page.goto(url);
    await page.waitForFunction(() => document.title === 'qgpu bench ready', undefined, { timeout: 180_000 });
    type PageRun = { adapterInfo: { description: string; architecture: string; vendor: string }; userAgent: string; copyGBps: number; runs: Omit<E2eRun, 'adapter' | 'runtime' | 'copyGBps' | 'copyBandwidthFraction'>[] };
    let qgpu: PageRun | undefined;
    const runs: E2eRun[] = [];
    for (const key of options.models) {
      const bench = scaledDown(key, { ...options.bench, ...options.perModel[key] }, options.quick);
      log(`chromium: qgpu on ${key} (prompts ${bench.promptLengths.join('/')}, ${bench.decodeTokens} decode tokens)`);
      const models = [{ key, url: `/models/${encodeURIComponent(key)}` }];
      qgpu = await page.evaluate(([m, b]) => (window as unknown as { qgpuBench: PageApi }).qgpuBench.runQgpu(m, b), [models, bench] as const) as PageRun;
      const adapter = qgpu.adapterInfo.architecture || qgpu.adapterInfo.vendor || 'unknown';
      const copyGBps = qgpu.copyGBps;
      runs.push(...qgpu.runs.map((r): E2eRun => ({ ...r, adapter, runtime: 'chromium', copyGBps, copyBandwidthFraction: r.achievedGBps / copyGBps })));
    }
    if (!qgpu) throw new Error('no model given to the browser run');
    const peers: PeerResult[] = [];
    if (options.peers) {
      for (const run of runs) {
        const promptTokens = run.prefill[0]!.promptTokens;
        const decodeTokens = run.decode[0]!.tokens;
        log(`chromium: wllama on ${run.model} (${promptTokens}-word prompt, ${decodeTokens} tokens)`);
        try {
          const w = await page.evaluate(([u, words, n, c]) => (window as unknown as { qgpuBench: PageApi }).qgpuBench.runWllama(u, words, n, c),
            [`/models/${encodeURIComponent(run.model)}`, promptWords(promptTokens - 1), decodeTokens, run.contextLength] as const) as {
            loadMs: number; promptTokens: number; prefillTokS: number; decodeTokens: number; decodeTokS: number; threads: number;
          };
          peers.push({ name: 'wllama', model: run.model, decodeTokS: w.decodeTokS, prefillTokS: w.prefillTokS,
            note: `CPU wasm, ${w.threads} thread(s); prompt ${w.promptTokens} tokens, ${w.decodeTokens} decoded; load ${(w.loadMs / 1000).toFixed(1)} s` });
        } catch (error) {
          peers.push({ name: 'wllama', model: run.model, decodeTokS: null, prefillTokS: null, skipped: String(error instanceof Error ? error.message : error).split('\n')[0]! });
        }
      }
      const shapes = options.quick ? ORT_SHAPES.slice(0, 1) : ORT_SHAPES;
      log(`chromium: onnxruntime-web MatMulNBits on ${shapes.length} GEMV shapes`);
      try {
        const ort = await page.evaluate(([s, n]) => (window as unknown as { qgpuBench: PageApi }).qgpuBench.runOrt(s, n), [shapes, options.quick ? 5 : 20] as const) as {
          shape: Shape; ortRunUs: number; qgpuCallUs: number; qgpuKernelUs: number | null;
        }[];
        for (const o of ort) {
          peers.push({ name: 'onnxruntime-web', model: `${o.shape.rows}×${o.shape.cols} (${o.shape.note})`, decodeTokS: null, prefillTokS: null,
            kernelUs: o.ortRunUs, qgpuKernelUs: o.qgpuCallUs,
            note: `WebGPU MatMulNBits 4-bit/32, GPU-resident session.run per call vs qgpu matmul_q4_0 per call (timestamps: ${o.qgpuKernelUs === null ? 'n/a' : `${o.qgpuKernelUs.toFixed(0)} µs`})` });
        }
      } catch (error) {
        peers.push({ name: 'onnxruntime-web', model: 'MatMulNBits GEMV', decodeTokS: null, prefillTokS: null, skipped: String(error instanceof Error ? error.message : error).split('\n')[0]! });
      }
    }
    return { userAgent: qgpu.userAgent, adapterInfo: qgpu.adapterInfo, runs, peers };
  } finally {
    await browser.close();
    await server.close();
  }
}
