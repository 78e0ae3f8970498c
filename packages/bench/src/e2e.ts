// `pnpm bench` — end-to-end benchmark of whole models: in Node on the named Dawn adapter (lavapipe by default) and,
// with --browser, in headless Chromium (SwiftShader) beside the peers (wllama, onnxruntime-web), see browser.ts.
//   pnpm bench [--adapter lavapipe|swiftshader] [--quick] [--json] [--models a,b] [--browser] [--browser-models a,b]
//              [--no-peers] [--decode-tokens N] [--json-out FILE]      pnpm bench --report RAW.json (tables of a raw record)
// --browser-models: the models run in Chromium (default: --models); SwiftShader is several times slower than lavapipe,
// so the largest shapes may be left to Node.
// --json prints one JSON object {"runs":[…],"peers":[…]} on stdout (progress goes to stderr). Raw records go to
// packages/bench/results/e2e-<adapter>-<date>[-quick].json. Synthetic models are generated on first use into
// .cache/models/ (synth.ts).
import { adapterName } from './adapter.ts';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bytesSource } from '@qgpu/formats';
import { createDeviceContext, type DeviceContext } from '@qgpu/gpu';
import { nodeGpu, type NodeAdapterName } from '@qgpu/gpu/node';
import { sharedPath } from '@qgpu/testing';
import { runBrowserBench, type BrowserBenchResult, type PeerResult } from './browser.ts';
import { benchCopy, copyWordsFor } from './cases.ts';
import { benchModel, type ModelBenchOptions, type ModelBenchResult } from './model-bench.ts';
import { writeRecord } from './report.ts';
import { synthModel, type SynthShapeName, type SynthType } from './synth.ts';

/** Model keys: the stories260K fixture, or `<shape>-<type>` of a synthetic model. */
export const MODELS = {
  'stories260K': { fixture: 'models/stories260K/stories260K-f32.gguf' },
  'smollm2-135m-q4_0': { shape: 'smollm2-135m', type: 'q4_0' },
  'smollm2-135m-q8_0': { shape: 'smollm2-135m', type: 'q8_0' },
  'smollm2-135m-q4_k': { shape: 'smollm2-135m', type: 'q4_k' },
  'qwen2.5-0.5b-q4_0': { shape: 'qwen2.5-0.5b', type: 'q4_0' },
  'llama-3.2-1b-q4_0': { shape: 'llama-3.2-1b', type: 'q4_0' },
  'llama-3.2-1b-q8_0': { shape: 'llama-3.2-1b', type: 'q8_0' },
  'llama-3.2-1b-q4_k': { shape: 'llama-3.2-1b', type: 'q4_k' },
} as const satisfies Record<string, { fixture: string } | { shape: SynthShapeName; type: SynthType }>;
export type ModelKey = keyof typeof MODELS;

/** The file of a model key, generating a synthetic model on first use. */
export function modelPath(key: ModelKey, log: (line: string) => void): string {
  const entry = MODELS[key];
  if ('fixture' in entry) return sharedPath(entry.fixture);
  return synthModel(entry.shape, entry.type, { log }).path;
}

interface Config {
  readonly models: readonly ModelKey[];
  readonly bench: Omit<ModelBenchOptions, 'log'>;
  /** Smaller settings for the large shapes (see configFor). */
  readonly perModel: Partial<Record<ModelKey, Partial<Omit<ModelBenchOptions, 'log'>>>>;
}

/**
 * What each mode runs. Full: the issue's prompt lengths (128, 512) and decode contexts (128, 1024). On this 2-core
 * machine, shared with other work (load average ~25–30 during these runs), lavapipe prefilled 16 tokens of the
 * Llama-3.2-1B shape in ~4 minutes, so everything but stories260K runs scaled down (shorter prompts, 1–2 decode
 * tokens; the decode contexts stay 128 and 1024) and BENCHMARKS.md says so. Quick: a few tokens, for `--quick --json`.
 */
function configFor(quick: boolean, decodeTokens: number | undefined): Config {
  const large = { promptLengths: [8], decodeTokens: Math.min(decodeTokens ?? 1, 1), compareAllLogits: false };
  if (quick) {
    return {
      models: ['stories260K', 'smollm2-135m-q4_0', 'llama-3.2-1b-q4_0'],
      bench: { promptLengths: [16], decodeContexts: [16], decodeTokens: decodeTokens ?? 4, profile: false },
      perModel: { 'llama-3.2-1b-q4_0': { promptLengths: [4], decodeTokens: Math.min(decodeTokens ?? 1, 1) } },
    };
  }
  return {
    models: ['stories260K', 'smollm2-135m-q4_0', 'llama-3.2-1b-q4_0', 'llama-3.2-1b-q8_0'],
    bench: { promptLengths: [128, 512], decodeContexts: [128, 1024], decodeTokens: decodeTokens ?? 8, profile: true, compareAllLogits: true },
    perModel: {
      'smollm2-135m-q4_0': { promptLengths: [32], decodeTokens: Math.min(decodeTokens ?? 2, 2) },
      'qwen2.5-0.5b-q4_0': large,
      'llama-3.2-1b-q4_0': large,
      'llama-3.2-1b-q8_0': large,
      'llama-3.2-1b-q4_k': large,
    },
  };
}

export interface E2eRun extends ModelBenchResult {
  readonly adapter: string;
  readonly runtime: 'node' | 'chromium';
  readonly copyGBps: number;
  readonly copyBandwidthFraction: number;
}

/** The `--json` summary the issue asks for. */
export function summary(runs: readonly E2eRun[], peers: readonly PeerResult[]): object {
  return {
    runs: runs.map((r) => ({
      model: r.model,
      adapter: r.runtime === 'node' ? r.adapter : `${r.adapter} (chromium)`,
      decode_tok_s: r.decode[0]!.tokS,
      prefill_tok_s: r.prefill[0]!.tokS,
      submits_per_token: r.submitsPerToken,
      dispatches_per_token: r.dispatchesPerToken,
      encode_ms_per_token: r.encodeCpuMsPerToken ?? r.encodeMsPerToken,
      copy_bandwidth_fraction: r.copyBandwidthFraction,
    })),
    peers: peers.map((p) => ({
      name: p.name, model: p.model, decode_tok_s: p.decodeTokS, prefill_tok_s: p.prefillTokS,
      ...(p.kernelUs !== undefined ? { kernel_us: p.kernelUs, qgpu_kernel_us: p.qgpuKernelUs } : {}),
      ...(p.skipped ? { skipped: p.skipped } : {}),
    })),
  };
}

const f = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '—');

export function markdownTables(runs: readonly E2eRun[]): string {
  const lines: string[] = [];
  const prefillCols = [...new Set(runs.flatMap((r) => r.prefill.map((p) => p.promptTokens)))];
  const decodeCols = [...new Set(runs.flatMap((r) => r.decode.map((d) => d.context)))];
  lines.push(`| model | runtime | load s (MB/s) | TTFT ms | ${prefillCols.map((n) => `prefill tok/s @${n}`).join(' | ')} | ${decodeCols.map((c) => `decode tok/s @${c}`).join(' | ')} | dispatches/tok | submits/tok | encode ms/tok (wall) | encode CPU ms/tok | step call ms/tok |`);
  lines.push(`|---|---|---|---|${prefillCols.map(() => '---').join('|')}|${decodeCols.map(() => '---').join('|')}|---|---|---|---|---|`);
  for (const r of runs) {
    const pre = prefillCols.map((n) => f(r.prefill.find((p) => p.promptTokens === n)?.tokS ?? NaN, 2));
    const dec = decodeCols.map((c) => f(r.decode.find((d) => d.context === c)?.tokS ?? NaN, 2));
    lines.push(`| ${r.model} | ${r.runtime} ${r.adapter} | ${f(r.loadMs / 1000)} (${f(r.loadMBps, 0)}) | ${f(r.ttftMs, 0)} | ${pre.join(' | ')} | ${dec.join(' | ')} | ${r.dispatchesPerToken} | ${f(r.submitsPerToken, 2)} | ${f(r.encodeMsPerToken, 3)} | ${r.encodeCpuMsPerToken === null || r.encodeCpuMsPerToken === undefined ? '—' : f(r.encodeCpuMsPerToken, 3)} | ${f(r.stepCallMsPerToken, 3)} |`);
  }
  const compared = runs.filter((r) => r.prefillAllLogits);
  if (compared.length > 0) {
    lines.push('');
    lines.push('Prefill with the output projection on the last row only (generation) vs on every row (scoring, incl. reading the logits back):\n');
    lines.push('| model | runtime | prompt | last-row tok/s | all-rows tok/s | speed-up |');
    lines.push('|---|---|---|---|---|---|');
    for (const r of compared) {
      const all = r.prefillAllLogits!;
      const last = r.prefill.find((p) => p.promptTokens === all.promptTokens)!;
      lines.push(`| ${r.model} | ${r.runtime} ${r.adapter} | ${all.promptTokens} | ${f(last.tokS, 1)} | ${f(all.tokS, 1)} | ${f(last.tokS / all.tokS, 2)}× |`);
    }
  }
  lines.push('');
  lines.push('| model | runtime | weight MB read/tok | achieved GB/s | copy GB/s | fraction of copy | GPU MB allocated | weights MB + KV MB |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const r of runs) {
    lines.push(`| ${r.model} | ${r.runtime} ${r.adapter} | ${f(r.weightBytesPerToken / 1e6)} | ${f(r.achievedGBps, 2)} | ${f(r.copyGBps, 2)} | ${f(100 * r.copyBandwidthFraction, 0)}% | ${f(r.gpuBytesAllocated / 1e6)} | ${f(r.weightGpuBytes / 1e6)} + ${f(r.kvCacheBytes / 1e6)} |`);
  }
  const profiled = runs.filter((r) => r.gpuUsByClass);
  if (profiled.length > 0) {
    const classes = [...new Set(profiled.flatMap((r) => Object.keys(r.gpuUsByClass!)))].sort();
    lines.push('');
    lines.push(`GPU time of one decode token per kernel class, µs (timestamp queries, each dispatch in its own pass):\n`);
    lines.push(`| model | runtime | ${classes.join(' | ')} | total |`);
    lines.push(`|---|---|${classes.map(() => '---').join('|')}|---|`);
    for (const r of profiled) {
      const us = r.gpuUsByClass!;
      lines.push(`| ${r.model} | ${r.runtime} ${r.adapter} | ${classes.map((c) => f(us[c] ?? 0, 0)).join(' | ')} | ${f(Object.values(us).reduce((a, b) => a + b, 0), 0)} |`);
    }
  }
  const unprofiled = runs.filter((r) => !r.gpuUsByClass);
  for (const r of unprofiled) lines.push(`\nNo GPU time per kernel class for ${r.model} on ${r.runtime} ${r.adapter}: ${r.gpuTimeNote}.`);
  return lines.join('\n');
}

export function peerTable(peers: readonly PeerResult[], runs: readonly E2eRun[]): string {
  if (peers.length === 0) return '';
  const lines = ['| peer | model / shape | peer prefill tok/s | peer decode tok/s | qgpu/peer prefill | qgpu/peer decode | peer kernel µs | qgpu kernel µs | note |', '|---|---|---|---|---|---|---|---|---|'];
  for (const p of peers) {
    const ours = runs.find((r) => r.model === p.model && r.runtime === 'chromium');
    const ratio = (a: number | undefined, b: number | null) => (a !== undefined && b ? f(a / b, 2) : '—');
    lines.push(`| ${p.name} | ${p.model} | ${f(p.prefillTokS ?? NaN, 2)} | ${f(p.decodeTokS ?? NaN, 2)} | ${ratio(ours?.prefill[0]?.tokS, p.prefillTokS)} | ${ratio(ours?.decode[0]?.tokS, p.decodeTokS)} | ${f(p.kernelUs ?? NaN, 0)} | ${f(p.qgpuKernelUs ?? NaN, 0)} | ${p.skipped ?? p.note ?? ''} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      adapter: { type: 'string', default: 'lavapipe' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      models: { type: 'string' },
      browser: { type: 'boolean', default: false },
      'browser-models': { type: 'string' },
      'no-peers': { type: 'boolean', default: false },
      'decode-tokens': { type: 'string' },
      'json-out': { type: 'string' },
      report: { type: 'string' },
    },
  });
  if (values.report) {
    // Tables of an existing raw record (e.g. a run stopped part way; records are written after every model).
    const record = JSON.parse(readFileSync(values.report, 'utf8')) as { command: string; date: string; adapterInfo: { description: string }; loadAverage: { start: number; end: number }; runs: E2eRun[]; peers: PeerResult[] };
    console.log(`- command: \`${record.command}\`\n- device: ${record.adapterInfo.description}; date ${record.date}; load average ${record.loadAverage.start.toFixed(1)} → ${record.loadAverage.end.toFixed(1)}\n`);
    console.log(markdownTables(record.runs));
    const peersMd = peerTable(record.peers, record.runs);
    if (peersMd) console.log(`\n${peersMd}`);
    return;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = performance.now();
  const loadAtStart = loadavg()[0]!;
  const config = configFor(values.quick, values['decode-tokens'] ? Number(values['decode-tokens']) : undefined);
  const models = values.models ? (values.models.split(',') as ModelKey[]) : config.models;
  const browserModels = values['browser-models'] ? (values['browser-models'].split(',') as ModelKey[]) : models;
  for (const m of [...models, ...browserModels]) if (!(m in MODELS)) throw new Error(`--models: unknown '${m}' (known: ${Object.keys(MODELS).join(', ')})`);
  const command = ['pnpm bench', ...process.argv.slice(2)].join(' ');

  const ctx = await createDeviceContext(nodeGpu(values.adapter as NodeAdapterName));
  const adapter = adapterName(ctx);
  log(`adapter: ${adapter} — ${ctx.adapterInfo.description} (features: ${[...ctx.features].join(', ')})`);
  const copy = await benchCopy(ctx, copyWordsFor(2 ** 27, ctx.limits.maxStorageBufferBindingSize), { targetMs: 150, repeats: 3, maxIterations: 50 });
  const copyGBps = copy.bytesMoved / (copy.medianWallUs * 1e3);
  log(`copy roofline: ${copyGBps.toFixed(2)} GB/s (${(copy.bytesMoved / 2 ** 20).toFixed(0)} MiB moved per call)`);

  const results = join(fileURLToPath(new URL('..', import.meta.url)), 'results');
  const out = values['json-out'] ?? join(results, `e2e-${adapter}-${new Date().toISOString().slice(0, 10)}${values.quick ? '-quick' : ''}.json`);
  const recordOf = (runs: readonly E2eRun[], peers: readonly PeerResult[], browser?: BrowserBenchResult) => ({
    tool: '@qgpu/bench e2e', date: new Date().toISOString(), command, adapter, adapterInfo: ctx.adapterInfo, features: [...ctx.features],
    browser: browser ? { userAgent: browser.userAgent, adapterInfo: browser.adapterInfo } : null,
    host: { platform: `${process.platform}-${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', node: process.version },
    loadAverage: { start: loadAtStart, end: loadavg()[0]! }, config: config.bench, perModel: config.perModel, copy, runs, peers,
    totalSeconds: (performance.now() - started) / 1000,
  });

  const runs: E2eRun[] = [];
  for (const key of models) {
    const path = modelPath(key, log);
    const bytes = new Uint8Array(readFileSync(path));
    const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
    const result = await benchModel(ctx, key, bytesSource(bytes, key), { ...config.bench, ...config.perModel[key], log, cpuMs });
    runs.push({ ...result, adapter, runtime: 'node', copyGBps, copyBandwidthFraction: result.achievedGBps / copyGBps });
    // Written after every model, so a long run that is stopped keeps what it measured.
    writeRecord(out, recordOf(runs, []) as never);
  }

  let browser: BrowserBenchResult | undefined;
  if (values.browser) {
    browser = await runBrowserBench({
      models: browserModels, quick: values.quick, peers: !values['no-peers'], bench: config.bench, perModel: config.perModel, log, modelPath: (k) => modelPath(k as ModelKey, log),
    });
    runs.push(...browser.runs);
  }
  const peers: PeerResult[] = browser?.peers ?? (values['no-peers'] ? [] : models.map((model) => ({
    name: 'wllama', model, decodeTokS: null, prefillTokS: null, skipped: 'wllama runs in the browser only (Web Workers, fetch of its wasm): pass --browser',
  })));

  const record = recordOf(runs, peers, browser);
  const { date, totalSeconds } = record;
  writeRecord(out, record as never);
  log(`raw results: ${out}`);
  if (values.json) {
    console.log(JSON.stringify(summary(runs, peers)));
    return;
  }
  console.log(`# End-to-end benchmark — ${adapter}${browser ? ' + Chromium' : ''}\n`);
  console.log(`- command: \`${command}\`\n- device: ${ctx.adapterInfo.description}${browser ? `; browser: ${browser.userAgent}, adapter ${JSON.stringify(browser.adapterInfo)}` : ''}`);
  console.log(`- date: ${date}; host: ${cpus().length} × ${cpus()[0]?.model ?? '?'}; load average ${loadAtStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}; total ${totalSeconds.toFixed(0)} s`);
  console.log(`- prompts ${config.bench.promptLengths.join('/')} tokens, decode ${config.bench.decodeTokens} tokens at contexts ${config.bench.decodeContexts.join('/')}\n`);
  console.log(markdownTables(runs));
  const peersMd = peerTable(peers, runs);
  if (peersMd) console.log(`\n${peersMd}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // Dawn keeps Node's event loop alive, so the script exits explicitly (docs/environment.md).
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    },
  );
}
