// Quantizer benchmark on stories260K (BENCHMARKS.md "Quantization"): perplexity of F32, RTN, SINQ, pre-SINQ + GGUF
// and W8A8 (per-token vs CrossQuant) on a TinyStories-style text, with llama.cpp's perplexity protocol
// (packages/runtime/src/perplexity.ts). Every model is scored on the CPU reference (exact function of its weights);
// the files the runtime loads are also scored on the GPU through `pnpm qgpu perplexity`.
//   node --import tsx packages/quant/src/bench/quant-bench.ts [--gpu] [--context 512]
// Writes packages/bench/results/quant-stories260K.json and prints a Markdown table.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { bytesSource, dequantize, quantize, readGguf, type GgufFile } from '@qgpu/formats';
import { loadReferenceModel, matmul, ReferenceLlama, type LinearHook, type LlamaConfig, type LlamaWeights } from '@qgpu/reference';
import { perplexityOfTokens, type LogitsModel } from '../../../runtime/src/perplexity.ts';
import { SpmTokenizer, spmVocabFromGguf } from '../../../tokenizer/src/index.ts';
import { collectColumnAbsMax, crossQuantFake, writeCalibration, type ColumnAbsMax, type KernelCount } from '../crossquant.ts';
import { dequantizedGguf } from '../gguf-layout.ts';
import { readTypedMetadata } from '../gguf-meta.ts';
import { quantizeGgufModel, type QuantizeModelOptions } from '../model.ts';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const { values: args } = parseArgs({ options: { gpu: { type: 'boolean', default: false }, context: { type: 'string', default: '512' } } });
const context = Number(args.context);
const MODEL = `${root}../shared/models/stories260K/stories260K-f32.gguf`;
const TEXT = `${root}packages/bench/data/tinystories-quant.txt`;
const OUT_DIR = '/tmp/qgpu-quant-bench';
mkdirSync(OUT_DIR, { recursive: true });

const open = async (bytes: Uint8Array, name: string) => readGguf(bytesSource(bytes, name));
const source = await open(new Uint8Array(readFileSync(MODEL)), 'stories260K-f32.gguf');
const text = readFileSync(TEXT, 'utf8');
const tokens = new SpmTokenizer(spmVocabFromGguf(source.metadata)).encode(text, { addBos: true });
const BOS = 1;

/** The reference model behind perplexity's LogitsModel interface, each window from an empty cache. */
function cpuModel(config: LlamaConfig, weights: LlamaWeights, hook?: LinearHook): LogitsModel {
  const model = new ReferenceLlama({ ...config, contextLength: Math.max(config.contextLength, context) }, weights, hook);
  return {
    contextLength: Math.max(config.contextLength, context),
    vocabSize: config.vocabSize,
    async forward(ids, startPos, logitsOf) {
      if (startPos === 0) model.reset();
      const logits = model.forward(ids, startPos);
      const rows = logitsOf === 'all' ? Array.from({ length: ids.length }, (_, r) => logits.subarray(r * config.vocabSize, (r + 1) * config.vocabSize)) : [];
      return { logits: rows };
    },
  };
}

async function cpuPpl(file: GgufFile, hook?: LinearHook): Promise<number> {
  const { config, weights } = await loadReferenceModel(file);
  return (await perplexityOfTokens(cpuModel(config, weights, hook), tokens, BOS, { context })).ppl;
}

function gpuPpl(path: string, kernelPath?: string, extra: string[] = []): number | null {
  if (!args.gpu) return null;
  const cli = ['--import', 'tsx', `${root}packages/cli/src/main.ts`, 'perplexity', '--model', path, '--file', TEXT, '--context', String(context), '--json'];
  if (kernelPath) cli.push('--kernel-path', kernelPath);
  cli.push(...extra);
  const r = spawnSync(process.execPath, cli, { cwd: root, encoding: 'utf8', env: { ...process.env, QGPU_ADAPTER: process.env.QGPU_ADAPTER ?? 'lavapipe' } });
  if (r.status !== 0) throw new Error(`qgpu perplexity ${path}: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!).ppl as number;
}

interface Row { label: string; file?: string; kernelPath?: string; cpu: number; gpu: number | null; bytes?: number; kernel?: { overall: number; perLayer: Record<string, number> } }
const rows: Row[] = [];
const record = (row: Row) => { rows.push(row); console.error(`${row.label}: cpu ${row.cpu.toFixed(4)}${row.gpu !== null ? ` gpu ${row.gpu.toFixed(4)}` : ''}`); };

/** Writes a converted model, scores it on the CPU (dequantized for qgpu.quant files) and the GPU. */
async function converted(label: string, name: string, options: QuantizeModelOptions, kernelPath?: string, gpu = true): Promise<void> {
  const bytes = await quantizeGgufModel(source, options);
  const path = `${OUT_DIR}/${name}.gguf`;
  writeFileSync(path, bytes);
  const file = await open(bytes, name);
  const cpuFile = options.method === 'presinq' ? file : await open(await dequantizedGguf(file, await readTypedMetadata(file)), `${name}-deq`);
  record({ label, file: path, ...(kernelPath ? { kernelPath } : {}), bytes: bytes.length, cpu: await cpuPpl(cpuFile), gpu: gpu ? gpuPpl(path, kernelPath) : null });
}

// F32 and llama.cpp's own quantized files.
record({ label: 'F32', file: MODEL, cpu: await cpuPpl(source), gpu: gpuPpl(MODEL) });
for (const type of ['q8_0', 'q4_0']) {
  const path = `${root}../shared/models/stories260K/stories260K-${type}.gguf`;
  record({ label: `llama.cpp ${type.toUpperCase()} file`, file: path, cpu: await cpuPpl(await open(new Uint8Array(readFileSync(path)), type)), gpu: gpuPpl(path) });
}
// Pre-SINQ + our GGUF quantizers (byte-exact llama.cpp reference quantizers, same per-tensor types as llama-quantize).
await converted('pre-SINQ + Q4_0', 'presinq-q4_0', { method: 'presinq', target: 'Q4_0' });
await converted('pre-SINQ + Q8_0', 'presinq-q8_0', { method: 'presinq', target: 'Q8_0' }, undefined, false);
// RTN and SINQ group quantization (asymmetric, LUT kernels on the GPU).
for (const group of [64, 32] as const) {
  for (const bits of [4, 3, 2] as const) {
    // The GPU scores the group-64 files (the LUT path agrees with the CPU reference to 1e-5 in logits, sinq-model.gpu.test.ts).
    await converted(`RTN ${bits}-bit g${group}`, `rtn${bits}-g${group}`, { method: 'rtn', bits, group }, undefined, group === 64);
    await converted(`SINQ ${bits}-bit g${group}`, `sinq${bits}-g${group}`, { method: 'sinq', bits, group }, undefined, group === 64);
    if (group === 64) await converted(`SINQ ${bits}-bit g${group}, t per linear (CPU only)`, `sinq${bits}-g${group}-perlinear`, { method: 'sinq', bits, group, perLinearScale: true }, undefined, false);
  }
}

// W8A8: Q8_0 weights (llama.cpp's file); activations of every linear whose width is whole 32-blocks fake-quantized to
// int8 on the CPU (per-token absmax = α 1, CrossQuant α < 1 with c from a calibration pass over the first half of the
// text), kernel proportion counted on the scored text. The GPU dp4a path (per-block-of-32 activations) for reference.
const q8Path = `${root}../shared/models/stories260K/stories260K-q8_0.gguf`;
const q8 = await open(new Uint8Array(readFileSync(q8Path)), 'q8_0');
const q8Model = await loadReferenceModel(q8);
const calibration: ColumnAbsMax = collectColumnAbsMax(q8Model.config, q8Model.weights, tokens.slice(0, Math.floor(tokens.length / 2)), context);
const int8Linear = (name: string, cols: number) => cols % 32 === 0 && name !== 'token_embd.weight';
const calibrationPath = `${OUT_DIR}/calibration-first-half.gguf`;
writeFileSync(calibrationPath, writeCalibration(calibration, Math.floor(tokens.length / 2)));
for (const alpha of [1, 0.75, 0.5, 0.25]) {
  const perLayer = new Map<string, KernelCount>();
  const overall: KernelCount = { nonzero: 0, zeroed: 0 };
  // CrossQuant folds c^(1−α) into the weight columns before Q8_0 (methods.md §3.3); per-token (α = 1) uses the file.
  const folded = new Map<string, Float32Array>();
  const weightFor = (name: string, w: Float32Array, rows: number, cols: number, c: Float32Array | undefined) => {
    if (alpha === 1 || !c) return w;
    let f = folded.get(name);
    if (!f) {
      const scaled = Float32Array.from(w, (v, i) => v * (c[i % cols]! > 0 ? c[i % cols]! ** (1 - alpha) : 1));
      f = Float32Array.from(dequantize('Q8_0', quantize('Q8_0', scaled), rows * cols));
      folded.set(name, f);
    }
    return f;
  };
  const hook: LinearHook = (name, w, x, rows, cols, n) => {
    if (!int8Linear(name, cols)) return matmul(w, x, rows, cols, n);
    const layer = name.replace(/\.[a-z_]+\.weight$/, '').replace(/^output$/, 'output');
    const count = perLayer.get(layer) ?? { nonzero: 0, zeroed: 0 };
    perLayer.set(layer, count);
    const before = { ...count };
    const c = calibration.get(name);
    // x̂ = q·Δ with Δ = t^α c^(1−α)/127; W' = W·c^(1−α) quantized; W'·(q·t^α/127) = Σ_j W_j c_j^(1−α) q_j t^α/127.
    const xq = crossQuantFake(x, n, cols, c, alpha, count);
    const xUnscaled = alpha === 1 || !c ? xq : Float32Array.from(xq, (v, i) => (c[i % cols]! > 0 ? v / c[i % cols]! ** (1 - alpha) : 0));
    overall.nonzero += count.nonzero - before.nonzero;
    overall.zeroed += count.zeroed - before.zeroed;
    return matmul(weightFor(name, w, rows, cols, c), xUnscaled, rows, cols, n);
  };
  const ppl = await cpuPpl(q8, hook);
  const share = (k: KernelCount) => k.zeroed / Math.max(1, k.nonzero);
  record({
    label: alpha === 1 ? 'W8A8 per-token absmax (Q8_0 weights)' : `W8A8 CrossQuant α=${alpha} (Q8_0 weights)`,
    cpu: ppl, gpu: gpuPpl(q8Path, 'dp4a', ['--crossquant', calibrationPath, '--alpha', String(alpha)]),
    kernel: { overall: share(overall), perLayer: Object.fromEntries([...perLayer].map(([k, v]) => [k, share(v)])) },
  });
}
record({ label: 'W8A8 dp4a per-block-32 activations (Q8_0 file)', file: q8Path, kernelPath: 'dp4a', cpu: NaN, gpu: gpuPpl(q8Path, 'dp4a') });

const adapter = args.gpu ? (process.env.QGPU_ADAPTER ?? 'lavapipe') : 'none';
const result = { model: 'stories260K', text: 'packages/bench/data/tinystories-quant.txt', tokens: tokens.length, context, adapter, date: new Date().toISOString(), rows };
writeFileSync(`${root}packages/bench/results/quant-stories260K.json`, JSON.stringify(result, null, 2) + '\n');
console.log(`| model | CPU reference ppl | GPU (${adapter}) ppl | kernel proportion |\n|---|---|---|---|`);
for (const r of rows) {
  console.log(`| ${r.label} | ${Number.isNaN(r.cpu) ? '—' : r.cpu.toFixed(3)} | ${r.gpu === null ? '—' : r.gpu.toFixed(3)} | ${r.kernel ? `${(100 * r.kernel.overall).toFixed(2)} %` : ''} |`);
}
