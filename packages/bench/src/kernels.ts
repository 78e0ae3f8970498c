// `pnpm bench:kernels` — times every matmul weight format on the layer shapes of small real models, next to a plain
// copy of similar size (the bandwidth roofline measured in the same process), and writes a markdown table to stdout
// and the raw numbers to packages/bench/results/<adapter>-<date>.json.
// Beside the dequant kernels it times the int8 path (quantize_act_q8 + matmul_dp4a_* / gemm_dp4a_*) and the LUT path
// (lut_build + lut_gemv at 1, 2, 3, 4 and 8 bits) on the same shapes, and prints them side by side per bit width.
//   node --import tsx packages/bench/src/kernels.ts [--adapter lavapipe|swiftshader] [--quick]
//        [--formats f32,q4_0,…] [--paths dequant,dp4a,lut] [--shapes 576x1536,64@576x1536,…] [--json-out FILE]
//        [--threads-per-row auto,64,16,…] [--lut-rows-per-wg 32,4,…]
// The decode GEMVs are the variant the runtime dispatches on this device (the *_sg kernels where it has subgroups), at
// the lanes per row (THREADS_PER_ROW) the runtime picks ('auto', ops.ts gemvThreadsPerRow) or at each of a list of
// settings, timed side by side in one run (their ratios are what count on a shared, noisy machine); likewise
// lut_gemv at the runtime's ROWS_PER_WG or at each of --lut-rows-per-wg.
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createDeviceContext, type DeviceContext } from '@qgpu/gpu';
import { nodeGpu, type NodeAdapterName } from '@qgpu/gpu/node';
import { gemvThreadsPerRow } from '@qgpu/runtime/ops';
import { adapterName } from './adapter.ts';
import { benchCopy, benchDp4a, benchLut, benchMatmul, copyWordsFor, lutSkipReason, parseShape, shapeLabel, skipReason, type CopyResult, type MatmulResult, type Shape } from './cases.ts';
import { copyTable, markdownTable, pathTable, shapeList, writeRecord, type Row, type RunRecord, type Skip } from './report.ts';
import type { TimingOptions } from './timing.ts';
import { DP4A_FORMATS, FORMATS, LUT_BITS_BENCHED, WEIGHT_METHOD, type Format } from './weights.ts';

/** Layers of real models, rows×cols = out×in. The LM head is out = vocab (ggml would write it ne 2048×32000). */
const SHAPES = {
  smolDown: { rows: 576, cols: 1536, tokens: 1, note: 'SmolLM-135M ffn_down' },
  smolUp: { rows: 1536, cols: 576, tokens: 1, note: 'SmolLM-135M ffn_up/gate' },
  qwenDown: { rows: 896, cols: 4864, tokens: 1, note: 'Qwen2-0.5B ffn_down' },
  llamaDown: { rows: 2048, cols: 8192, tokens: 1, note: 'Llama-3.2-1B ffn_down' },
  llamaUp: { rows: 8192, cols: 2048, tokens: 1, note: 'Llama-3.2-1B ffn_up/gate' },
  lmHead: { rows: 32000, cols: 2048, tokens: 1, note: 'TinyLlama-1.1B output, vocab 32000' },
  prefill: { rows: 576, cols: 1536, tokens: 64, note: 'SmolLM-135M ffn_down, 64-token prefill' },
  prefill16: { rows: 576, cols: 1536, tokens: 16, note: 'SmolLM-135M ffn_down, 16-token prefill' },
} as const satisfies Record<string, Shape>;

/**
 * Default shape sets, sized so a full run takes ~2–4 minutes on this 2-core machine. SwiftShader ran these kernels
 * 4–15× slower than lavapipe (a 64-token matmul_* prefill took ~4.5 s per call there), so it leaves out the LM head
 * and runs the prefill with 16 tokens. --shapes overrides any of this.
 */
const DEFAULT_SHAPES: Record<'lavapipe' | 'swiftshader', Record<'full' | 'quick', Shape[]>> = {
  lavapipe: {
    full: [SHAPES.smolDown, SHAPES.smolUp, SHAPES.qwenDown, SHAPES.llamaDown, SHAPES.llamaUp, SHAPES.lmHead, SHAPES.prefill],
    quick: [SHAPES.smolDown, SHAPES.qwenDown, SHAPES.llamaDown, SHAPES.prefill],
  },
  swiftshader: {
    full: [SHAPES.smolDown, SHAPES.smolUp, SHAPES.qwenDown, SHAPES.llamaDown, SHAPES.llamaUp, SHAPES.prefill16],
    quick: [SHAPES.smolDown, SHAPES.qwenDown],
  },
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      adapter: { type: 'string', default: 'auto' },
      quick: { type: 'boolean', default: false },
      formats: { type: 'string' },
      paths: { type: 'string', default: 'dequant,dp4a,lut' },
      shapes: { type: 'string' },
      'json-out': { type: 'string' },
      'threads-per-row': { type: 'string', default: 'auto' },
      'lut-rows-per-wg': { type: 'string' },
    },
  });
  const started = performance.now();
  const loadAtStart = loadavg()[0]!;
  const ctx = await createDeviceContext(nodeGpu(values.adapter as NodeAdapterName));
  const adapter = adapterName(ctx);
  const formats = values.formats ? (values.formats.split(',') as Format[]) : FORMATS;
  for (const f of formats) if (!FORMATS.includes(f)) throw new Error(`--formats: unknown '${f}' (known: ${FORMATS.join(', ')})`);
  const sets = DEFAULT_SHAPES[adapter === 'swiftshader' ? 'swiftshader' : 'lavapipe'];
  const shapes = values.shapes ? values.shapes.split(',').map(parseShape) : sets[values.quick ? 'quick' : 'full'];
  const options: TimingOptions = values.quick ? { targetMs: 100, repeats: 3, maxIterations: 100 } : { targetMs: 250, repeats: 5, maxIterations: 200 };
  const command = ['node --import tsx packages/bench/src/kernels.ts', ...process.argv.slice(2)].join(' ');

  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`adapter: ${adapter} — ${ctx.adapterInfo.description} (features: ${[...ctx.features].join(', ')})`);
  log(`shapes (rows×cols = out×in): ${shapeList(shapes)}`);

  const threadSettings = values['threads-per-row'].split(',').map((t) => (t === 'auto' ? 'auto' as const : Number(t)));
  for (const t of threadSettings) {
    if (t !== 'auto' && !(Number.isInteger(t) && t >= 1 && t <= 64 && (t & (t - 1)) === 0)) throw new Error(`--threads-per-row: '${t}' is not auto or a power of two 1..64`);
  }
  /** The THREADS_PER_ROW settings a decode shape runs at ('auto' resolved, duplicates dropped). */
  const threadsFor = (shape: Shape) => [...new Set(threadSettings.map((t) => (t === 'auto' ? gemvThreadsPerRow(shape.cols) : t)))];
  const lutRows = values['lut-rows-per-wg']?.split(',').map(Number) ?? [undefined];
  for (const r of lutRows) {
    if (r !== undefined && !(Number.isInteger(r) && r >= 1 && r <= 64 && (r & (r - 1)) === 0)) throw new Error(`--lut-rows-per-wg: '${r}' is not a power of two 1..64`);
  }
  const paths = new Set(values.paths.split(','));
  for (const p of paths) if (!['dequant', 'dp4a', 'lut'].includes(p)) throw new Error(`--paths: unknown '${p}' (known: dequant, dp4a, lut)`);
  const hasDp4a = ctx.wgslFeatures.has('packed_4x8_integer_dot_product');
  if (paths.has('dp4a') && !hasDp4a) log('dp4a path skipped: no packed_4x8_integer_dot_product WGSL feature');

  const rows: Row[] = [];
  const skipped: Skip[] = [];
  const copies = new Map<number, CopyResult>();
  const keep = async (result: MatmulResult) => {
    const words = copyWordsFor(result.bytesMoved, ctx.limits.maxStorageBufferBindingSize);
    let copy = copies.get(words);
    if (!copy) {
      copy = await benchCopy(ctx, words, options);
      copies.set(words, copy);
    }
    rows.push({ result, copy });
    log(`  ${result.kernel} ${shapeLabel(result.shape)}: ${result.medianWallUs.toFixed(0)} µs/call ×${result.iterations}`);
  };
  const skip = (format: string, shape: Shape, reason: string) => {
    skipped.push({ format, shape, reason });
    log(`  skip ${format} ${shapeLabel(shape)}: ${reason}`);
  };
  for (const shape of shapes) {
    // Prefill shapes also time the tiled GEMM, the kernel written for them, beside the decode kernel.
    const variants = shape.tokens > 1 ? (['matmul', 'gemm'] as const) : (['matmul'] as const);
    for (const format of paths.has('dequant') ? formats : []) {
      const reason = skipReason(ctx, format, shape);
      if (reason) skip(format, shape, reason);
      else if (shape.tokens > 1) for (const variant of variants) await keep(await benchMatmul(ctx, variant, format, shape, options));
      else for (const threads of threadsFor(shape)) await keep(await benchMatmul(ctx, 'matmul', format, shape, options, threads));
    }
    for (const format of paths.has('dp4a') && hasDp4a ? DP4A_FORMATS : []) {
      const reason = skipReason(ctx, format, shape);
      if (reason) skip(`dp4a_${format}`, shape, reason);
      else if (shape.tokens > 1) for (const variant of variants) await keep(await benchDp4a(ctx, variant, format, shape, options));
      else for (const threads of threadsFor(shape)) await keep(await benchDp4a(ctx, 'matmul', format, shape, options, threads));
    }
    for (const bits of paths.has('lut') ? LUT_BITS_BENCHED : []) {
      const reason = lutSkipReason(ctx, bits, shape);
      if (reason) skip(`lut${bits}`, shape, reason);
      else for (const rowsPerWg of lutRows) await keep(await benchLut(ctx, bits, shape, options, rowsPerWg));
    }
  }

  const date = new Date().toISOString();
  const totalSeconds = (performance.now() - started) / 1000;
  console.log(`# Kernel benchmarks — ${adapter}\n`);
  console.log(`- command: \`${command}\`\n- device: ${ctx.adapterInfo.description} (${ctx.adapterInfo.vendor}/${ctx.adapterInfo.architecture})`);
  console.log(`- date: ${date}; host: ${cpus().length} × ${cpus()[0]?.model ?? '?'}; load average ${loadAtStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}; total ${totalSeconds.toFixed(0)} s`);
  console.log(`- shapes (rows×cols = out×in): ${shapeList(shapes)}`);
  console.log(`- activations f32; median of ${options.repeats} measurements, each N calls in one pass and one submit\n`);
  console.log(markdownTable(rows));
  console.log(`\n## Kernel paths per bit width (decode GEMV at the runtime's lanes per row; dp4a and lut include their activation kernel)\n\n${pathTable(rows.filter(({ result }) => isRuntimeChoice(result)))}`);
  if (threadSettings.length > 1) console.log(`\n## Decode GEMV lanes per row (THREADS_PER_ROW), same run\n\n${lanesTable(rows)}`);
  console.log(`\n${copyTable([...copies.values()])}`);
  if (skipped.length > 0) console.log(`\nSkipped:\n${skipped.map((s) => `- ${s.format} ${shapeLabel(s.shape)}: ${s.reason}`).join('\n')}`);

  const record: RunRecord = {
    tool: '@qgpu/bench kernels',
    date,
    command,
    adapter,
    adapterInfo: ctx.adapterInfo,
    features: [...ctx.features],
    host: { platform: `${process.platform}-${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', node: process.version },
    loadAverage: { start: loadAtStart, end: loadavg()[0]! },
    activations: 'f32',
    weightMethod: WEIGHT_METHOD,
    timing: options,
    shapes,
    rows,
    skipped,
    totalSeconds,
  };
  const results = join(fileURLToPath(new URL('..', import.meta.url)), 'results');
  const out = values['json-out'] ?? join(results, `${adapter}-${date.slice(0, 10)}${values.quick ? '-quick' : ''}.json`);
  writeRecord(out, record);
  log(`raw results: ${out}`);
}

/**
 * Whether a row is a kernel as the runtime runs it: not a decode GEMV timed at another lanes-per-row setting, nor
 * lut_gemv at another ROWS_PER_WG (only those carry a `rows/wg` label).
 */
function isRuntimeChoice(result: MatmulResult): boolean {
  if (result.kernel.includes(' rows/wg')) return false;
  const m = /\((\d+) lanes\/row\)$/.exec(result.kernel);
  return !m || Number(m[1]) === gemvThreadsPerRow(result.shape.cols);
}

/**
 * Per decode GEMV and shape: µs/call at each lanes-per-row setting and the speed-up over 64 lanes (the one-row
 * kernel), from rows labelled `<kernel> (<n> lanes/row)`.
 */
function lanesTable(rows: readonly Row[]): string {
  const groups = new Map<string, Map<number, number>>();
  for (const { result } of rows) {
    const m = /^(.*) \((\d+) lanes\/row\)$/.exec(result.kernel);
    if (!m || result.shape.tokens !== 1) continue;
    const key = `${m[1]} | ${shapeLabel(result.shape)}`;
    if (!groups.has(key)) groups.set(key, new Map());
    groups.get(key)!.set(Number(m[2]), result.medianWallUs);
  }
  const settings = [...new Set([...groups.values()].flatMap((g) => [...g.keys()]))].sort((a, b) => b - a);
  const header = `| kernel | shape | ${settings.map((t) => `${t} lanes µs (×64)`).join(' | ')} |`;
  const lines = [...groups].map(([key, g]) => {
    const base = g.get(64);
    return `| ${key} | ${settings.map((t) => {
      const us = g.get(t);
      return us === undefined ? '—' : `${us.toFixed(0)}${base ? ` (${(base / us).toFixed(2)}×)` : ''}`;
    }).join(' | ')} |`;
  });
  return [header, `|${'---|'.repeat(settings.length + 2)}`, ...lines].join('\n');
}

// Dawn keeps Node's event loop alive, so the script exits explicitly (docs/environment.md).
main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
