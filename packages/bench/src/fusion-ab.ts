// A/B benchmark of the decode-plan fusions (docs/performance.md "Fusions"): the same model loaded once per fusion set
// (none, residual, residual + gateUp, all) in ONE process, decode measured in alternating rounds (the order rotates
// each round, so a slow spell of a shared host does not land on one set), medians reported with ratios to 'none'.
// Per round and set: `tokens` greedy decode steps from the same position (the real per-token path: step write, one
// pass, one submit, 4-byte readback; tok/s from wall time), then `tokens` decode plans, each alone in a pass between
// two timestamp queries (GPU ms per token; lavapipe and SwiftShader time on the CPU, like everything else there).
//   node --import tsx packages/bench/src/fusion-ab.ts [--model stories260K|smollm2-135m-q4_0|…] [--adapter lavapipe]
//     [--kernel-path dequant] [--rounds 5] [--tokens 4] [--prompt 8] [--json-out FILE]
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { bytesSource, readGguf } from '@qgpu/formats';
import { createDeviceContext, type DeviceContext } from '@qgpu/gpu';
import { nodeGpu, type NodeAdapterName } from '@qgpu/gpu/node';
import { checkKernelPath, LlamaModel, type FuseOptions } from '@qgpu/runtime';
import { adapterName } from './adapter.ts';
import { modelPath, MODELS, type ModelKey } from './e2e.ts';
import { median, PassTimer } from './timing.ts';

/** The fusion sets compared, each adding one fusion to the previous. */
const SETS: readonly { readonly name: string; readonly fuse: Required<FuseOptions> }[] = [
  { name: 'none', fuse: { qkv: false, gateUp: false, residual: false } },
  { name: 'residual', fuse: { qkv: false, gateUp: false, residual: true } },
  { name: '+gateUp', fuse: { qkv: false, gateUp: true, residual: true } },
  { name: 'all (+qkv)', fuse: { qkv: true, gateUp: true, residual: true } },
];

/** One decode plan at position `pos` in a timestamped pass: GPU ms. */
async function gpuMsPerToken(ctx: DeviceContext, model: LlamaModel, timer: PassTimer, pos: number): Promise<number> {
  const { device } = ctx;
  device.queue.writeBuffer(model.workspace.stepBuffer, 0, new Uint32Array([pos, 1]));
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass({ timestampWrites: timer.writes });
  model.plans.decode.encode(pass);
  pass.end();
  timer.afterPass(encoder);
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  return (await timer.elapsedNs()) / 1e6;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'stories260K' }, adapter: { type: 'string', default: 'lavapipe' },
      'kernel-path': { type: 'string', default: 'dequant' }, rounds: { type: 'string', default: '5' }, tokens: { type: 'string', default: '4' },
      prompt: { type: 'string', default: '8' }, 'json-out': { type: 'string' },
    },
  });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const key = values.model as ModelKey;
  if (!(key in MODELS)) throw new Error(`--model: unknown '${key}' (known: ${Object.keys(MODELS).join(', ')})`);
  const [rounds, tokens, promptTokens] = [Number(values.rounds), Number(values.tokens), Number(values.prompt)];
  const kernelPath = checkKernelPath(values['kernel-path']);
  const ctx = await createDeviceContext(nodeGpu(values.adapter as NodeAdapterName));
  const timer = ctx.features.has('timestamp-query') ? new PassTimer(ctx.device) : null;
  const loadAverage = [loadavg()[0]!];
  const file = await readGguf(bytesSource(new Uint8Array(readFileSync(modelPath(key, log))), key));
  const prompt = Array.from({ length: promptTokens }, (_, i) => 3 + ((i * 37) % 200));
  const contextLength = promptTokens + tokens + 1;
  const models: LlamaModel[] = [];
  for (const set of SETS) {
    const model = await LlamaModel.load(ctx, file, { contextLength, prefillChunk: promptTokens, kernelPath, fuse: set.fuse });
    await model.forward(prompt, 0);                      // fills the KV cache below the decode position
    models.push(model);
    log(`${set.name}: ${model.decodeDispatches} dispatches per decode token`);
  }
  const msPerToken: number[][] = SETS.map(() => []);
  const gpuMs: number[][] = SETS.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < SETS.length; i++) {
      const s = (i + r) % SETS.length;                   // rotate the order each round
      const model = models[s]!;
      // Every round decodes the same positions, so attention reads the same number of cached keys.
      await model.decodeGreedy(promptTokens);            // warm: first submit of this round for this model
      const t0 = performance.now();
      for (let t = 1; t <= tokens; t++) await model.decodeGreedy(promptTokens + t - 1);
      msPerToken[s]!.push((performance.now() - t0) / tokens);
      for (let t = 0; timer && t < tokens; t++) gpuMs[s]!.push(await gpuMsPerToken(ctx, model, timer, promptTokens));
    }
    log(`round ${r + 1}/${rounds}: ${SETS.map((set, s) => `${set.name} ${msPerToken[s]!.at(-1)!.toFixed(1)} ms`).join(', ')}`);
  }
  loadAverage.push(loadavg()[0]!);
  const none = { ms: median(msPerToken[0]!), gpu: timer ? median(gpuMs[0]!) : null };
  const rows = SETS.map((set, s) => {
    const ms = median(msPerToken[s]!);
    const gpu = timer ? median(gpuMs[s]!) : null;
    return {
      set: set.name, fuse: set.fuse, dispatchesPerToken: models[s]!.decodeDispatches,
      tokS: 1000 / ms, msPerToken: ms, speedup: none.ms / ms, bestMsPerToken: Math.min(...msPerToken[s]!), gpuMsPerToken: gpu, gpuSpeedup: gpu !== null && none.gpu !== null ? none.gpu / gpu : null,
      msPerTokenRounds: msPerToken[s]!, gpuMsRounds: timer ? gpuMs[s]! : null,
    };
  });
  models.forEach((m) => m.destroy());
  timer?.destroy();
  const command = ['node --import tsx packages/bench/src/fusion-ab.ts', ...process.argv.slice(2)].join(' ');
  // The tree measured: its commit and the kernel/runtime files that differed from it (a working tree shared by several
  // people may hold someone's uncommitted kernel change).
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
  const tree = { head: git('rev-parse', '--short', 'HEAD'), uncommitted: git('status', '--porcelain', '--', 'shaders', 'packages/runtime/src').split('\n').filter(Boolean) };
  const record = { command, tree, model: key, adapter: adapterName(ctx), device: ctx.adapterInfo.description, kernelPath, rounds, tokens, promptTokens, loadAverage, rows };
  // The best round too: on a shared host noise only ever adds time, so the minimum is the least disturbed figure.
  log(`| set | dispatches/token | decode tok/s (median) | × none | best round ms/token | GPU ms/token (median) | × none |`);
  log('|---|---|---|---|---|---|---|');
  for (const row of rows) {
    log(`| ${row.set} | ${row.dispatchesPerToken} | ${row.tokS.toFixed(2)} | ${row.speedup.toFixed(3)} | ${row.bestMsPerToken.toFixed(2)} | `
      + `${row.gpuMsPerToken?.toFixed(2) ?? '—'} | ${row.gpuSpeedup?.toFixed(3) ?? '—'} |`);
  }
  log(`load average ${loadAverage.map((l) => l.toFixed(2)).join(' → ')}`);
  if (values['json-out']) writeFileSync(values['json-out'], `${JSON.stringify(record, null, 2)}\n`);
  console.log(JSON.stringify(record));
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
