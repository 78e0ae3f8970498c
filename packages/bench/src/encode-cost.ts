// The CPU cost of recording one decode token (issue #7's acceptance: ≤ 1 ms for the Llama-3.2-1B shape, median,
// Node, lavapipe): loads a model, records its decode plan R times (command encoder, one compute pass, finish; no
// submit, so the GPU does not compete for the CPU), and prints the wall-clock median and the process CPU time per
// recording. Nothing is decoded, so this takes seconds where the end-to-end benchmark takes many minutes.
//   node --import tsx packages/bench/src/encode-cost.ts [--model llama-3.2-1b-q4_0] [--adapter lavapipe] [--repeats 200]
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { bytesSource, readGguf } from '@qgpu/formats';
import { createDeviceContext } from '@qgpu/gpu';
import { nodeGpu, type NodeAdapterName } from '@qgpu/gpu/node';
import { LlamaModel } from '@qgpu/runtime';
import { adapterName } from './adapter.ts';
import { modelPath, type ModelKey } from './e2e.ts';
import { median } from './timing.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'llama-3.2-1b-q4_0' }, adapter: { type: 'string', default: 'lavapipe' }, repeats: { type: 'string', default: '200' },
      // Also run a 3-token prefill and one decode step, to show the model (e.g. a split Q8_0 embedding) runs.
      run: { type: 'boolean', default: false },
    },
  });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const ctx = await createDeviceContext(nodeGpu(values.adapter as NodeAdapterName));
  const key = values.model as ModelKey;
  const file = await readGguf(bytesSource(new Uint8Array(readFileSync(modelPath(key, log))), key));
  const model = await LlamaModel.load(ctx, file, { contextLength: 256 });
  const plan = model.plans.decode;
  const record = () => {
    const encoder = ctx.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    plan.encode(pass);
    pass.end();
    encoder.finish();
  };
  for (let i = 0; i < 10; i++) record();
  const repeats = Number(values.repeats);
  const wall: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    record();
    wall.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  let generated: number[] | undefined;
  if (values.run) {
    const { next } = await model.forward([1, 5, 9], 0);
    generated = [next, await model.decodeGreedy(3)];
  }
  const result = {
    model: key, adapter: adapterName(ctx), dispatchesPerToken: plan.dispatchCount, repeats,
    embeddingPieces: model.weights.tokenEmbedding.pieces.length, outputPieces: model.weights.output.pieces.length, generated,
    wallMsMedian: median(wall), cpuMsPerRecording: (cpu.user + cpu.system) / 1000 / repeats, loadAverage: loadavg()[0],
  };
  console.log(JSON.stringify(result));
  model.destroy();
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
