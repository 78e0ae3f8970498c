// Quantizer benchmark on stories260K (BENCHMARKS.md "Quantization"): perplexity of F32, RTN, SINQ, pre-SINQ + GGUF
// and W8A8 (per-token vs CrossQuant) on a TinyStories-style text, with llama.cpp's perplexity protocol
// (packages/runtime/src/perplexity.ts). Every model is scored on the CPU reference (exact function of its weights);
// the files the runtime loads are also scored on the GPU through `pnpm qgpu perplexity`.
//   node --import tsx packages/bench/src/quant-bench.ts [--gpu] [--context 512] [--chunks 5]
// Writes packages/bench/results/quant-stories260K.json and prints a Markdown table.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { bytesSource, readGguf, type GgufFile } from '@qgpu/formats';
import { loadReferenceModel, ReferenceLlama, type LinearHook, type LlamaConfig, type LlamaWeights } from '@qgpu/reference';
import { perplexityOfTokens, type LogitsModel } from '@qgpu/runtime';
import { SpmTokenizer, spmVocabFromGguf } from '@qgpu/tokenizer';
import {
  collectColumnAbsMax, crossQuantHook, dequantizedGguf, quantizeGgufModel, readTypedMetadata, writeCalibration,
  type ColumnAbsMax, type KernelCount, type QuantizeModelOptions,
} from '@qgpu/quant';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const { values: args } = parseArgs({ options: { gpu: { type: 'boolean', default: false }, context: { type: 'string', default: '512' }, chunks: { type: 'string', default: '5' } } });
const context = Number(args.context);
/** Windows scored (llama-perplexity --chunks): 5 × 512 tokens of the 5,460-token text keeps a full run under the CI budget. */
const chunks = Number(args.chunks);
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
  return (await perplexityOfTokens(cpuModel(config, weights, hook), tokens, BOS, { context, maxWindows: chunks })).ppl;
}

function gpuPpl(path: string, kernelPath?: string, extra: string[] = []): number | null {
  if (!args.gpu) return null;
  const cli = ['--import', 'tsx', `${root}packages/cli/src/main.ts`, 'perplexity', '--model', path, '--file', TEXT, '--context', String(context), '--chunks', String(chunks), '--json'];
  if (kernelPath) cli.push('--kernel-path', kernelPath);
  cli.push(...extra);
  const r = spawnSync(process.execPath, cli, { cwd: root, encoding: 'utf8', env: { ...process.env, QGPU_ADAPTER: process.env.QGPU_ADAPTER ?? 'lavapipe' } });
  if (r.status !== 0) throw new Error(`qgpu perplexity ${path}: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!).ppl as number;
}

interface Row { label: string; file?: string; kernelPath?: string; cpu: number; gpu: number | null; bytes?: number; kernel?: { overall: number; perLayer: Record<string, number> } }
const rows: Row[] = [];
// Rows are appended to a JSON-lines log as they finish, and a rerun takes finished rows from it (a full run takes
// tens of minutes on a loaded 2-core machine); delete the log to start over.
const LOG = `${OUT_DIR}/rows-${context}-${chunks}.jsonl`;
const done = new Map<string, Row>(existsSync(LOG) ? readFileSync(LOG, 'utf8').trim().split('\n').filter(Boolean).map((l) => { const r = JSON.parse(l) as Row; return [r.label, { ...r, cpu: r.cpu ?? NaN }]; /* JSON writes NaN (no CPU score) as null */ }) : []);
const record = (row: Row) => {
  rows.push(row);
  if (!done.has(row.label)) appendFileSync(LOG, JSON.stringify(row) + '\n');
  console.error(`${row.label}: cpu ${row.cpu.toFixed(4)}${row.gpu !== null ? ` gpu ${row.gpu.toFixed(4)}` : ''}`);
};
/** The finished row of that label, or computes it. */
const row = async (label: string, compute: () => Promise<Row>) => record(done.get(label) ?? await compute());

/** Writes a converted model, scores it on the CPU (dequantized for qgpu.quant files) and the GPU. */
async function converted(label: string, name: string, options: QuantizeModelOptions, kernelPath?: string, gpu = true): Promise<void> {
  await row(label, () => convertedRow(label, name, options, kernelPath, gpu));
}

async function convertedRow(label: string, name: string, options: QuantizeModelOptions, kernelPath: string | undefined, gpu: boolean): Promise<Row> {
  const bytes = await quantizeGgufModel(source, options);
  const path = `${OUT_DIR}/${name}.gguf`;
  writeFileSync(path, bytes);
  const file = await open(bytes, name);
  const cpuFile = options.method === 'presinq' ? file : await open(await dequantizedGguf(file, await readTypedMetadata(file)), `${name}-deq`);
  return { label, file: path, ...(kernelPath ? { kernelPath } : {}), bytes: bytes.length, cpu: await cpuPpl(cpuFile), gpu: gpu ? gpuPpl(path, kernelPath) : null };
}

// F32 and llama.cpp's own quantized files.
await row('F32', async () => ({ label: 'F32', file: MODEL, cpu: await cpuPpl(source), gpu: gpuPpl(MODEL) }));
for (const type of ['q8_0', 'q4_0']) {
  const path = `${root}../shared/models/stories260K/stories260K-${type}.gguf`;
  await row(`llama.cpp ${type.toUpperCase()} file`, async () => ({ label: `llama.cpp ${type.toUpperCase()} file`, file: path, cpu: await cpuPpl(await open(new Uint8Array(readFileSync(path)), type)), gpu: gpuPpl(path) }));
}
// Pre-SINQ + our GGUF quantizers (byte-exact llama.cpp reference quantizers, same per-tensor types as llama-quantize).
await converted('pre-SINQ + Q4_0', 'presinq-q4_0', { method: 'presinq', target: 'Q4_0' });
await converted('pre-SINQ + Q8_0', 'presinq-q8_0', { method: 'presinq', target: 'Q8_0' }, undefined, false);
// RTN and SINQ group quantization (asymmetric, LUT kernels on the GPU).
for (const group of [64, 32] as const) {
  for (const bits of [4, 3, 2] as const) {
    // The GPU scores the group-64 files (the LUT path agrees with the CPU reference to 1e-5 in logits, sinq-model.gpu.test.ts).
    await converted(`RTN ${bits}-bit g${group}`, `rtn${bits}-g${group}`, { method: 'rtn', bits, group }, undefined, group === 64 && bits === 4);
    // SINQ: one t per linear (the paper, the default); the shared-t variant (one t per input) for comparison.
    await converted(`SINQ ${bits}-bit g${group}`, `sinq${bits}-g${group}`, { method: 'sinq', bits, group }, undefined, group === 64 && bits === 4);
    if (group === 64) await converted(`SINQ ${bits}-bit g${group}, t shared per input`, `sinq${bits}-g${group}-shared`, { method: 'sinq', bits, group, sharedInputScale: true }, undefined, bits === 4);
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
  const label = alpha === 1 ? 'W8A8 per-token absmax (Q8_0 weights)' : `W8A8 CrossQuant α=${alpha} (Q8_0 weights)`;
  await row(label, async () => {
  const { hook, perLinear, overall } = crossQuantHook(calibration, alpha, int8Linear);
  const ppl = await cpuPpl(q8, hook);
  const share = (k: KernelCount) => k.zeroed / Math.max(1, k.nonzero);
  // Per layer: the linears of blk.N summed (output.weight on its own).
  const perLayer = new Map<string, KernelCount>();
  for (const [name, k] of perLinear) {
    const layer = /^blk\.\d+/.exec(name)?.[0] ?? name;
    const acc = perLayer.get(layer) ?? { nonzero: 0, zeroed: 0 };
    perLayer.set(layer, { nonzero: acc.nonzero + k.nonzero, zeroed: acc.zeroed + k.zeroed });
  }
  return {
    label,
    cpu: ppl, gpu: alpha === 1 || alpha === 0.5 ? gpuPpl(q8Path, 'dp4a', ['--crossquant', calibrationPath, '--alpha', String(alpha)]) : null,
    kernel: { overall: share(overall), perLayer: Object.fromEntries([...perLayer].map(([k, v]) => [k, share(v)])) },
  };
  });
}
await row('W8A8 dp4a per-block-32 activations (Q8_0 file)', async () => ({ label: 'W8A8 dp4a per-block-32 activations (Q8_0 file)', file: q8Path, kernelPath: 'dp4a', cpu: NaN, gpu: gpuPpl(q8Path, 'dp4a') }));

const adapter = args.gpu ? (process.env.QGPU_ADAPTER ?? 'lavapipe') : 'none';
const result = { model: 'stories260K', text: 'packages/bench/data/tinystories-quant.txt', tokens: tokens.length, context, chunks, adapter, date: new Date().toISOString(), rows };
writeFileSync(`${root}packages/bench/results/quant-stories260K.json`, JSON.stringify(result, null, 2) + '\n');
console.log(`| model | CPU reference ppl | GPU (${adapter}) ppl | kernel proportion |\n|---|---|---|---|`);
for (const r of rows) {
  console.log(`| ${r.label} | ${Number.isNaN(r.cpu) ? '—' : r.cpu.toFixed(3)} | ${r.gpu === null ? '—' : r.gpu.toFixed(3)} | ${r.kernel ? `${(100 * r.kernel.overall).toFixed(2)} %` : ''} |`);
}
