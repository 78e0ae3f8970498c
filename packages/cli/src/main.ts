// qgpu — the command-line interface (Node, Dawn). `pnpm qgpu <command> --help` lists each command's options.
// Every failure prints one line `qgpu: <message>` on stderr and exits non-zero.
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { nodeGpu, type NodeAdapterName } from '@qgpu/gpu/node';
import { checkContextOverflow, checkKernelPath, checkKvCacheType, createEngine, type KernelPath, type LoadOptions } from '@qgpu/runtime';
import { nodeModelSource, nodeModelTokenizer } from './hf-dir.ts';
import { crossQuantOption, QuantizeUsageError, runCalibrate, runQuantize } from './quantize.ts';
import { positionEncodingFromFlags, POSITION_ENCODING_USAGE } from './position-encoding.ts';
import { scoreText } from './score.ts';

const USAGE = `usage:
  qgpu run --model FILE|DIR --prompt TEXT [--max-tokens N] [--temperature T] [--seed S] [--json] [--adapter A] [--kernel-path K]
           [--kv-cache f32|f16|int8] [--context N] [--context-overflow stop|shift]
  qgpu tokenize --model FILE|DIR --text TEXT [--json]
  qgpu score --model FILE --text-file FILE [--json] [--adapter A] [--kernel-path K]
  qgpu perplexity --model FILE --file TEXT [--context N] [--chunks N] [--json] [--adapter A] [--kernel-path K]
           [--position-encoding rope|linear|3d-rpe] [--linear-factor F] [--chunk-size C] [--rope-mode eq4|chunked]
  qgpu quantize --model FILE --method rtn|sinq|presinq --bits N [--group 32|64|128] [--format gguf|safetensors] [--type Q4_0|Q8_0|Q4_K|F32] [--symmetric] [--kurtosis-gate] -o OUT
  qgpu calibrate --model FILE --file TEXT -o OUT   (CrossQuant column absmax of every linear input; docs/quantization.md)
adapters (Dawn's Vulkan driver): lavapipe | swiftshader | auto (default; env QGPU_ADAPTER)
kernel paths: dequant (default) | dp4a (int8 activations, integer dot products for Q8_0/Q4_0/Q4_K weights) | lut (T-MAC 4-bit tables)
--crossquant CAL.gguf [--alpha A] (run/score/perplexity with --kernel-path dp4a): CrossQuant int8 activations from 'qgpu calibrate' statistics (α default 0.5)
KV cache (--kv-cache, every command that loads a model): f32 (default) | f16 | int8 (per position and KV head scales)
context overflow (run): stop (default: stop_reason context_full) | shift (keep BOS, drop the oldest half, re-prefill)
${POSITION_ENCODING_USAGE}`;

class UsageError extends Error {}

const OPTIONS = {
  model: { type: 'string' },
  prompt: { type: 'string' },
  text: { type: 'string' },
  'text-file': { type: 'string' },
  file: { type: 'string' },
  context: { type: 'string' },
  chunks: { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  seed: { type: 'string' },
  adapter: { type: 'string' },
  'kernel-path': { type: 'string' },
  crossquant: { type: 'string' },
  alpha: { type: 'string' },
  'kv-cache': { type: 'string' },
  'position-encoding': { type: 'string' },
  'chunk-size': { type: 'string' },
  'rope-mode': { type: 'string' },
  'linear-factor': { type: 'string' },
  'local-window': { type: 'string' },
  interpolate: { type: 'boolean' },
  'context-overflow': { type: 'string' },
  method: { type: 'string' },
  bits: { type: 'string' },
  group: { type: 'string' },
  format: { type: 'string' },
  type: { type: 'string' },
  output: { type: 'string', short: 'o' },
  symmetric: { type: 'boolean', default: false },
  'kurtosis-gate': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

function numberOption(value: string | undefined, name: string, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'}, got '${value}'`);
  }
  return n;
}

/** Checked before any device is touched, so a bad value fails fast with the runtime's own message. */
function kernelPathOption(value: string | undefined): KernelPath | undefined {
  if (value === undefined) return undefined;
  try {
    return checkKernelPath(value);
  } catch (error) {
    throw new UsageError(`--kernel-path: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A flag checked by the runtime's own validator, so a bad value fails before any device is touched. */
function checked<T>(name: string, value: string | undefined, check: (value: string) => T): T | undefined {
  if (value === undefined) return undefined;
  try {
    return check(value);
  } catch (error) {
    throw new UsageError(`--${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function required(value: string | undefined, name: string): string {
  if (value === undefined) throw new UsageError(`--${name} is required\n${USAGE}`);
  return value;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false });
  if (!command || command === '--help' || values.help) {
    console.log(USAGE);
    return;
  }
  const adapter = (values.adapter ?? process.env.QGPU_ADAPTER ?? 'auto') as NodeAdapterName;
  const modelPath = required(values.model, 'model');
  const kernelPath = kernelPathOption(values['kernel-path']);
  const kvCache = checked('kv-cache', values['kv-cache'], checkKvCacheType);
  const crossQuant = values.crossquant === undefined ? undefined : await crossQuantOption(values.crossquant, numberOption(values.alpha, 'alpha', 0.5, false));
  const positionEncoding = (() => {
    try {
      return positionEncodingFromFlags(values);
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
  })();
  const loadOptions: LoadOptions = {
    ...(kernelPath ? { kernelPath } : {}), ...(kvCache ? { kvCache } : {}), ...(crossQuant ? { crossQuant } : {}), ...(positionEncoding ? { positionEncoding } : {}),
  };

  switch (command) {
    case 'tokenize': {
      const tokenizer = await nodeModelTokenizer(modelPath);
      const ids = tokenizer.encode(required(values.text, 'text'));
      console.log(values.json ? JSON.stringify({ ids }) : ids.join(' '));
      return;
    }
    case 'run': {
      const prompt = required(values.prompt, 'prompt');
      const engine = createEngine({ gpu: nodeGpu(adapter) });
      const context = values.context === undefined ? undefined : numberOption(values.context, 'context', 0, true);
      await engine.load(await nodeModelSource(modelPath), { ...loadOptions, ...(context !== undefined ? { contextLength: context } : {}) });
      const contextOverflow = checked('context-overflow', values['context-overflow'], checkContextOverflow);
      const options = {
        ...(contextOverflow ? { contextOverflow } : {}),
        maxTokens: numberOption(values['max-tokens'], 'max-tokens', 64, true),
        temperature: numberOption(values.temperature, 'temperature', 0, false),
        seed: numberOption(values.seed, 'seed', 0, true),
      };
      const onText = values.json ? undefined : (piece: string) => process.stdout.write(piece);
      const result = await engine.generate(prompt, options, onText);
      if (values.json) {
        const { promptIds, generatedIds, text, stopReason, stopDetail, contextShifts, stats } = result;
        console.log(JSON.stringify({
          prompt_ids: promptIds, generated_ids: generatedIds, text, stop_reason: stopReason, stop_detail: stopDetail, context_shifts: contextShifts,
          stats, adapter: (await engine.info()).adapter,
        }));
      } else {
        process.stdout.write('\n');
        if (result.stopDetail) console.error(`[stopped: ${result.stopDetail}]`);
        const s = result.stats;
        console.error(`[${s.promptTokens} prompt tokens, ${s.generatedTokens} generated; prefill ${s.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${s.decodeTokensPerSecond.toFixed(1)} tok/s]`);
      }
      return;
    }
    case 'score': {
      const text = await readFile(required(values['text-file'], 'text-file'), 'utf8').catch(() => {
        throw new UsageError(`${values['text-file']}: cannot read the text file`);
      });
      const engine = createEngine({ gpu: nodeGpu(adapter) });
      await engine.load(await nodeModelSource(modelPath), loadOptions);
      const result = await scoreText(engine, text);
      console.log(values.json ? JSON.stringify(result) : `ppl ${result.ppl.toFixed(4)} over ${result.positions.length} predictions`);
      return;
    }
    case 'quantize': {
      const { method, bits, group, format, output, type, symmetric } = values;
      const path = await runQuantize({ model: modelPath, method, bits, group, format, output, type, symmetric, kurtosisGate: values['kurtosis-gate'] });
      console.log(values.json ? JSON.stringify({ output: path }) : `wrote ${path}`);
      return;
    }
    case 'calibrate': {
      const textPath = required(values.file, 'file');
      const text = await readFile(textPath, 'utf8').catch(() => {
        throw new UsageError(`${textPath}: cannot read the text file`);
      });
      const { path, tokens } = await runCalibrate(modelPath, textPath, text, values.output);
      console.log(values.json ? JSON.stringify({ output: path, tokens }) : `wrote ${path} (${tokens} calibration tokens)`);
      return;
    }
    case 'perplexity': {
      const textPath = required(values.file, 'file');
      const text = await readFile(textPath, 'utf8').catch(() => {
        throw new UsageError(`${textPath}: cannot read the text file`);
      });
      const context = values.context === undefined ? undefined : numberOption(values.context, 'context', 0, true);
      const maxWindows = values.chunks === undefined ? undefined : numberOption(values.chunks, 'chunks', 0, true);
      const engine = createEngine({ gpu: nodeGpu(adapter) });
      // The KV cache is sized to the window, which may exceed the trained context (long-context experiments).
      await engine.load(await nodeModelSource(modelPath), { ...loadOptions, ...(context !== undefined ? { contextLength: context } : {}) });
      const started = performance.now();
      const result = await engine.perplexity(text, {
        ...(context !== undefined ? { context } : {}),
        ...(maxWindows !== undefined ? { maxWindows } : {}),
        ...(values.json ? {} : { onWindow: (w: number, ppl: number) => process.stderr.write(`[${w + 1}]${ppl.toFixed(4)} `) }),
      });
      const seconds = (performance.now() - started) / 1000;
      const { adapter: adapterInfo, model } = await engine.info();
      if (values.json) {
        console.log(JSON.stringify({ ...result, seconds, model: model?.name, adapter: adapterInfo, load: loadOptions }));
      } else {
        process.stderr.write('\n');
        console.log(`ppl ${result.ppl.toFixed(4)} ± ${result.pplStdErr.toFixed(5)} over ${result.windows} windows of ${result.context} tokens (${result.scored} scored of ${result.tokens})`);
      }
      return;
    }
    default:
      throw new UsageError(`unknown command '${command}'\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`qgpu: ${message}`);
    process.exit(error instanceof UsageError || error instanceof QuantizeUsageError ? 2 : 1);
  },
);
