// `qgpu quantize` and `qgpu calibrate`: offline model conversion with @qgpu/quant (docs/quantization.md).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesSource, readGguf, writeGguf, type GgufFile } from '@qgpu/formats';
import {
  calibrateModel, quantizeGgufModel, readCalibration, readTypedMetadata, writeCalibration, QUANT_BITS, QUANT_GROUPS,
  type PreSinqTarget, type QuantBits, type QuantGroup, type QuantMethod,
} from '@qgpu/quant';
import { hfCheckpointFromGguf } from '@qgpu/runtime';
import { SpmTokenizer, spmVocabFromGguf } from '@qgpu/tokenizer';
import { nodeFileSource } from './node-file.ts';

export interface QuantizeArgs {
  readonly model: string;
  readonly method: string | undefined;
  readonly bits: string | undefined;
  readonly group: string | undefined;
  readonly format: string | undefined;
  readonly output: string | undefined;
  readonly type: string | undefined;
  readonly symmetric: boolean;
  readonly kurtosisGate: boolean;
}

/** A bad option: main.ts prints it as one line and exits 2. */
export class QuantizeUsageError extends Error {}

const METHODS: readonly QuantMethod[] = ['rtn', 'sinq', 'presinq'];
/** Pre-SINQ's GGUF type per --bits when --type is not given. */
const PRESINQ_TYPE_OF_BITS: Readonly<Record<number, PreSinqTarget>> = { 4: 'Q4_0', 8: 'Q8_0' };
const PRESINQ_TYPES: readonly PreSinqTarget[] = ['Q4_0', 'Q8_0', 'Q4_K', 'F32'];

function int(value: string | undefined, name: string, allowed: readonly number[]): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!allowed.includes(n)) throw new QuantizeUsageError(`--${name} must be one of ${allowed.join(', ')}, got '${value}'`);
  return n;
}

/** `-o out` with the extension the format needs (`.gguf`), unless it is already there. */
export function outputPath(path: string, extension: string): string {
  return path.toLowerCase().endsWith(extension) ? path : path + extension;
}

export async function runQuantize(args: QuantizeArgs): Promise<string> {
  const method = args.method as QuantMethod;
  if (!METHODS.includes(method)) throw new QuantizeUsageError(`--method must be one of ${METHODS.join(', ')}, got '${args.method ?? ''}'`);
  if (!args.output) throw new QuantizeUsageError('-o/--output is required');
  const format = args.format ?? 'gguf';
  if (format === 'safetensors' && method === 'presinq') {
    // Pre-SINQ's output is standard GGUF blocks (Q4_0 / Q8_0 / Q4_K) for llama.cpp too; safetensors has no such types.
    throw new QuantizeUsageError('--format safetensors is for rtn / sinq group codes; pre-SINQ writes standard GGUF block types (Q4_0, Q8_0, Q4_K): use --format gguf');
  }
  if (format !== 'gguf' && format !== 'safetensors') throw new QuantizeUsageError(`--format must be gguf or safetensors, got '${format}'`);
  const bits = int(args.bits, 'bits', method === 'presinq' ? [4, 8] : QUANT_BITS) as QuantBits | undefined;
  const group = int(args.group, 'group', QUANT_GROUPS) as QuantGroup | undefined;
  let target: PreSinqTarget | undefined;
  if (method === 'presinq') {
    if (args.type !== undefined && !(PRESINQ_TYPES as readonly string[]).includes(args.type)) throw new QuantizeUsageError(`--type must be one of ${PRESINQ_TYPES.join(', ')}, got '${args.type}'`);
    target = (args.type as PreSinqTarget | undefined) ?? PRESINQ_TYPE_OF_BITS[bits ?? 4];
    if (group !== undefined && group !== 32) throw new QuantizeUsageError('--group: pre-SINQ writes GGUF block types, whose group is fixed (32, or 256-superblocks for Q4_K)');
  } else if (bits === undefined) {
    throw new QuantizeUsageError(`--bits is required for --method ${method} (2..8)`);
  }
  const file = await readGguf(await nodeFileSource(args.model));
  const bytes = await quantizeGgufModel(file, {
    method,
    ...(bits !== undefined ? { bits } : {}),
    ...(group !== undefined ? { group } : {}),
    ...(target !== undefined ? { target } : {}),
    symmetric: args.symmetric,
    kurtosisGate: args.kurtosisGate,
  });
  if (format === 'safetensors') return writeHfDirectory(file, await readGguf(bytesSource(bytes, 'quantized.gguf')), args.output);
  const path = outputPath(args.output, '.gguf');
  await writeFile(path, bytes);
  return path;
}

/**
 * `--format safetensors`: an HF model directory `dir` (created; no extension added) holding model.safetensors (HF
 * names, coded linears as `.qweight/.scales/.zeros/.col_scale` with the qgpu.quant.* keys, docs/formats.md),
 * config.json, and the input's tokenizer as tokenizer.gguf: a vocab-only GGUF with just its tokenizer.* metadata, which
 * the HF loader accepts in place of tokenizer.json (the SPM vocabulary of a GGUF model has no tokenizer.json form).
 */
async function writeHfDirectory(input: GgufFile, quantized: GgufFile, dir: string): Promise<string> {
  const { config, safetensors } = await hfCheckpointFromGguf(quantized);
  const tokenizer = Object.fromEntries(Object.entries(await readTypedMetadata(input)).filter(([key]) => key.startsWith('tokenizer.')));
  if (Object.keys(tokenizer).length === 0) throw new QuantizeUsageError(`${input.source.name}: the model has no tokenizer.* metadata to carry into ${dir}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.safetensors'), safetensors);
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  await writeFile(join(dir, 'tokenizer.gguf'), writeGguf(tokenizer, []));
  return dir;
}

/** Column absmax of every linear input over the text (one window of the model's context at a time). */
export async function runCalibrate(model: string, textPath: string, text: string, output: string | undefined): Promise<{ path: string; tokens: number }> {
  if (!output) throw new QuantizeUsageError('-o/--output is required');
  const file = await readGguf(await nodeFileSource(model));
  const tokens = new SpmTokenizer(spmVocabFromGguf(file.metadata)).encode(text, { addBos: true });
  if (tokens.length < 2) throw new QuantizeUsageError(`${textPath}: the calibration text is empty`);
  const stats = await calibrateModel(file, tokens);
  const path = outputPath(output, '.gguf');
  await writeFile(path, writeCalibration(stats, tokens.length));
  return { path, tokens: tokens.length };
}

/** `--crossquant SIDECAR --alpha A`: the calibration of `qgpu calibrate` as the runtime's CrossQuant load option. */
export async function crossQuantOption(path: string, alpha: number): Promise<{ columnAbsMax: Record<string, Float32Array>; alpha: number }> {
  if (!(alpha >= 0 && alpha <= 1)) throw new QuantizeUsageError(`--alpha must be in [0, 1], got ${alpha}`);
  const stats = await readCalibration(await readGguf(await nodeFileSource(path)));
  return { columnAbsMax: Object.fromEntries(stats), alpha };
}
