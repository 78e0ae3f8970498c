// `pnpm bench:attention` — attention time vs context length for each KV-cache type: one decode step (flash-decoding:
// attention_decode_* + attention_reduce) and one 32-token prefill chunk (attention_prefill_*) of one layer, at the
// end of a context of 128 … 2048 positions. Prints a markdown table and writes the raw numbers to
// packages/bench/results/attention-<adapter>-<date>.json.
//   node --import tsx packages/bench/src/attention.ts [--adapter lavapipe|swiftshader] [--quick] [--contexts 128,256,…]
//        [--heads H/KVH/D] [--json-out FILE]
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createDeviceContext, createTensor, PipelineCache, PlanBuilder, uploadTensor, type DeviceContext, type GpuTensor } from '@qgpu/gpu';
import { nodeGpu, type NodeAdapterName } from '@qgpu/gpu/node';
import { randomFloats } from '@qgpu/testing';
// Relative imports: @qgpu/bench does not list @qgpu/runtime as a workspace dependency (see BENCHMARKS.md).
import { attention, decodeSplitsFor, kvWrite, type AttentionDims, type KvCacheLayer, type KvCacheType } from '@qgpu/runtime/ops';
import { adapterName } from './adapter.ts';
import { timePlan, type TimingOptions } from './timing.ts';

const KV_TYPES: KvCacheType[] = ['f32', 'f16', 'int8'];
/** Bytes one cached position costs per KV head of head_dim values, K and V together. */
const BYTES_PER_POSITION: Record<KvCacheType, (headDim: number) => number> = {
  f32: (d) => 2 * 4 * d,
  f16: (d) => 2 * 2 * d,
  int8: (d) => 2 * (d + 4),
};
const PREFILL_CHUNK = 32;

interface Row {
  readonly kvCache: KvCacheType;
  readonly context: number;
  readonly decodeUs: number;
  readonly decodeGpuUs: number | null;
  /** K and V bytes of positions 0 … context − 1 over the median decode time. */
  readonly decodeGBps: number;
  readonly prefillUs: number;
  readonly iterations: { readonly decode: number; readonly prefill: number };
}

function makeCache(device: GPUDevice, type: KvCacheType, seqLen: number, dims: AttentionDims): KvCacheLayer {
  const kvDim = dims.nKvHeads * dims.headDim;
  if (type === 'int8') {
    return {
      type,
      k: createTensor(device, 'k', [seqLen, kvDim / 4], 'u32'),
      v: createTensor(device, 'v', [seqLen, kvDim / 4], 'u32'),
      kScale: createTensor(device, 'ks', [seqLen, dims.nKvHeads], 'f32'),
      vScale: createTensor(device, 'vs', [seqLen, dims.nKvHeads], 'f32'),
    };
  }
  return { type, k: createTensor(device, 'k', [seqLen, kvDim], type), v: createTensor(device, 'v', [seqLen, kvDim], type) };
}

async function benchType(ctx: DeviceContext, type: KvCacheType, dims: AttentionDims, contexts: number[], options: TimingOptions): Promise<Row[]> {
  const { device } = ctx;
  const seqLen = Math.max(...contexts);
  const kvDim = dims.nKvHeads * dims.headDim;
  const qDim = dims.nHeads * dims.headDim;
  const step = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const setStep = (pos: number, nTokens: number) => device.queue.writeBuffer(step, 0, new Uint32Array([pos, nTokens, 0, 0]));
  const owned: GpuTensor[] = [];
  const tensor = (t: GpuTensor) => (owned.push(t), t);
  const cache = makeCache(device, type, seqLen, dims);
  owned.push(cache.k, cache.v, ...(cache.type === 'int8' ? [cache.kScale, cache.vScale] : []));
  const k = tensor(uploadTensor(device, 'k_in', [seqLen, kvDim], 'f32', randomFloats(1, seqLen * kvDim, 1)));
  const v = tensor(uploadTensor(device, 'v_in', [seqLen, kvDim], 'f32', randomFloats(2, seqLen * kvDim, 1)));
  const q = tensor(uploadTensor(device, 'q', [PREFILL_CHUNK, qDim], 'f32', randomFloats(3, PREFILL_CHUNK * qDim, 1)));
  const out = tensor(createTensor(device, 'out', [PREFILL_CHUNK, qDim], 'f32'));
  const { nSplits, splitLen } = decodeSplitsFor(seqLen);
  const splits = {
    nSplits, splitLen,
    ml: tensor(createTensor(device, 'ml', [dims.nHeads, nSplits, 2], 'f32')),
    acc: tensor(createTensor(device, 'acc', [dims.nHeads, nSplits, dims.headDim], 'f32')),
  };
  const cacheBuild = new PipelineCache(ctx, 'f32');
  const plan = async (record: (p: PlanBuilder) => void) => {
    const p = new PlanBuilder(cacheBuild, step, `bench.attention.${type}`);
    record(p);
    return p.build();
  };
  // The whole cache holds random keys and values, written (and converted / quantized) by the type's kv_write.
  const fill = await plan((p) => kvWrite(p, k, v, cache, dims, seqLen));
  setStep(0, seqLen);
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  fill.encode(pass);
  pass.end();
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  fill.destroy();

  const decode = await plan((p) => attention(p, { q, cache, out, splits, dims, nTokens: 1 }));
  const prefill = await plan((p) => attention(p, { q, cache, out, splits, dims, nTokens: PREFILL_CHUNK }));
  const rows: Row[] = [];
  for (const context of contexts) {
    setStep(context - 1, 1); // the decode token sits at the last position: keys 0 … context − 1
    const d = await timePlan(ctx, decode, options);
    setStep(context - PREFILL_CHUNK, PREFILL_CHUNK); // the chunk's last token at context − 1
    const pf = await timePlan(ctx, prefill, options);
    rows.push({
      kvCache: type, context,
      decodeUs: d.medianWallUs, decodeGpuUs: d.medianGpuUs,
      decodeGBps: (context * dims.nKvHeads * BYTES_PER_POSITION[type](dims.headDim)) / d.medianWallUs / 1e3,
      prefillUs: pf.medianWallUs,
      iterations: { decode: d.iterations, prefill: pf.iterations },
    });
    process.stderr.write(`  ${type} context ${context}: decode ${d.medianWallUs.toFixed(0)} µs, prefill(${PREFILL_CHUNK}) ${pf.medianWallUs.toFixed(0)} µs\n`);
  }
  decode.destroy();
  prefill.destroy();
  owned.forEach((t) => t.buffer.destroy());
  step.destroy();
  return rows;
}

function parseHeads(text: string): AttentionDims {
  const m = /^(\d+)\/(\d+)\/(\d+)$/.exec(text);
  if (!m) throw new Error(`--heads: '${text}' is not N_HEADS/N_KV_HEADS/HEAD_DIM`);
  return { nHeads: Number(m[1]), nKvHeads: Number(m[2]), headDim: Number(m[3]) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      adapter: { type: 'string', default: 'auto' },
      quick: { type: 'boolean', default: false },
      contexts: { type: 'string' },
      // Llama-3.2-1B's attention: 32 query heads over 8 KV heads of 64.
      heads: { type: 'string', default: '32/8/64' },
      'json-out': { type: 'string' },
    },
  });
  const started = performance.now();
  const loadAtStart = loadavg()[0]!;
  const ctx = await createDeviceContext(nodeGpu(values.adapter as NodeAdapterName));
  const adapter = adapterName(ctx);
  const dims = parseHeads(values.heads);
  const contexts = values.contexts ? values.contexts.split(',').map(Number) : values.quick ? [128, 512, 2048] : [128, 256, 512, 1024, 2048];
  if (contexts.some((c) => !Number.isInteger(c) || c < PREFILL_CHUNK)) throw new Error(`--contexts: each must be an integer ≥ ${PREFILL_CHUNK}`);
  const options: TimingOptions = values.quick ? { targetMs: 100, repeats: 3, maxIterations: 50 } : { targetMs: 200, repeats: 5, maxIterations: 100 };
  const command = ['pnpm bench:attention', ...process.argv.slice(2)].join(' ');
  process.stderr.write(`adapter: ${adapter} — ${ctx.adapterInfo.description}; heads ${values.heads}\n`);

  const rows: Row[] = [];
  for (const type of KV_TYPES) rows.push(...(await benchType(ctx, type, dims, contexts, options)));

  const date = new Date().toISOString();
  const totalSeconds = (performance.now() - started) / 1000;
  console.log(`# Attention vs context — ${adapter}\n`);
  console.log(`- command: \`${command}\`\n- device: ${ctx.adapterInfo.description} (${ctx.adapterInfo.vendor}/${ctx.adapterInfo.architecture})`);
  console.log(`- date: ${date}; host: ${cpus().length} × ${cpus()[0]?.model ?? '?'}; load average ${loadAtStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}; total ${totalSeconds.toFixed(0)} s`);
  console.log(`- one layer, ${dims.nHeads} query heads / ${dims.nKvHeads} KV heads / head_dim ${dims.headDim}; median of ${options.repeats} measurements, each N calls in one pass\n`);
  console.log(`| KV cache | context | decode µs | decode K+V GB/s | prefill ${PREFILL_CHUNK} tok µs | prefill µs/token |`);
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.kvCache} | ${r.context} | ${r.decodeUs.toFixed(0)} | ${r.decodeGBps.toFixed(2)} | ${r.prefillUs.toFixed(0)} | ${(r.prefillUs / PREFILL_CHUNK).toFixed(0)} |`);
  }
  const record = {
    tool: '@qgpu/bench attention', date, command, adapter, adapterInfo: ctx.adapterInfo, features: [...ctx.features],
    host: { platform: `${process.platform}-${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', node: process.version },
    loadAverage: { start: loadAtStart, end: loadavg()[0]! }, dims, prefillChunk: PREFILL_CHUNK, timing: options, rows, totalSeconds,
  };
  const results = join(fileURLToPath(new URL('..', import.meta.url)), 'results');
  const outPath = values['json-out'] ?? join(results, `attention-${adapter}-${date.slice(0, 10)}${values.quick ? '-quick' : ''}.json`);
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, `${JSON.stringify(record, null, 2)}\n`);
  process.stderr.write(`raw results: ${outPath}\n`);
}

// Dawn keeps Node's event loop alive, so the script exits explicitly (docs/environment.md).
main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
