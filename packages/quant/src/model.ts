// Whole-model conversion of a Llama GGUF file: RTN / SINQ to qgpu's group-quantized tensors (gguf-layout.ts), or
// pre-SINQ folding followed by standard GGUF block quantization (Q4_0 / Q8_0 / Q4_K) that llama.cpp loads as well.
import {
  f32ToF16, FormatError, metaNumber, metaString, quantize, readTensorBytes, tensorToF32, writeGguf,
  type GgufFile, type GgufWriteTensor, type SupportedTensorType,
} from '@qgpu/formats';
import { groupFits, type QuantBits, type QuantGroup } from './groups.ts';
import { groupTensors, quantMetadata } from './gguf-layout.ts';
import { readTypedMetadata } from './gguf-meta.ts';
import { foldPreSinq, type FoldGroup, type FoldMatrix, type PreSinqOptions } from './presinq.ts';
import { quantizeRtn } from './groups.ts';
import { quantizeSinqShared } from './sinq.ts';

export type QuantMethod = 'rtn' | 'sinq' | 'presinq';
/** Standard GGUF block types pre-SINQ can write. */
export type PreSinqTarget = 'Q4_0' | 'Q8_0' | 'Q4_K' | 'F32';

/** A tensor of the model decoded to f32; `ne` in GGUF order (innermost first). */
export interface ModelTensor {
  readonly name: string;
  readonly ne: readonly number[];
  readonly sourceType: string;
  readonly values: Float32Array;
}

/** Every tensor of a GGUF file decoded to f32 (quantized inputs are dequantized exactly as ggml does). */
export async function readModelF32(file: GgufFile): Promise<Map<string, ModelTensor>> {
  const out = new Map<string, ModelTensor>();
  for (const t of file.tensors) {
    const type = t.typeName as SupportedTensorType;
    const values = Float32Array.from(tensorToF32(type, await readTensorBytes(file, t), t.elementCount));
    out.set(t.name, { name: t.name, ne: t.ne, sourceType: t.typeName, values });
  }
  return out;
}

/** The linear layers of a Llama GGUF (every matrix multiplied with an activation; the token embedding is gathered). */
export function linearNames(nLayers: number, hasOutput: boolean): string[] {
  const perLayer = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'];
  const names = Array.from({ length: nLayers }, (_, l) => perLayer.map((n) => `blk.${l}.${n}.weight`)).flat();
  return hasOutput ? [...names, 'output.weight'] : names;
}

const missing = (name: string): never => {
  throw new FormatError(`missing tensor '${name}'`);
};

/** Linears grouped by the input they read: q|k|v, o, gate|up, down per layer, and the output matrix. */
export function inputGroups(nLayers: number, hasOutput: boolean): string[][] {
  const groups = Array.from({ length: nLayers }, (_, l) => [['attn_q', 'attn_k', 'attn_v'], ['attn_output'], ['ffn_gate', 'ffn_up'], ['ffn_down']]
    .map((g) => g.map((n) => `blk.${l}.${n}.weight`))).flat();
  return hasOutput ? [...groups, ['output.weight']] : groups;
}

/**
 * The linears that get one SINQ t together: each linear alone (the paper's setting, the default; the runtime gives
 * each its own scaled copy of the input) or, with `shared`, the linears that read one input (inputGroups).
 */
export function columnScaleGroups(nLayers: number, hasOutput: boolean, shared = false): string[][] {
  const groups = inputGroups(nLayers, hasOutput);
  return shared ? groups : groups.flat().map((n) => [n]);
}

function matrixOf(t: ModelTensor): FoldMatrix {
  if (t.ne.length !== 2) throw new FormatError(`${t.name}: expected a matrix, got shape [${t.ne}]`);
  return { values: t.values, rows: t.ne[1]!, cols: t.ne[0]! };
}

/**
 * The pre-SINQ groups of a Llama model: q|k|v (producer attn_norm), gate|up (ffn_norm), down (rows of up: SwiGLU is
 * silu(g)·u, linear in u, so u_j·t_j then down's column j / t_j is exact), and the untied output matrix (output_norm).
 * attn_output has no exact producer (its input comes out of softmax·V, mixed across heads), so it keeps t = 1.
 */
export function preSinqGroups(tensors: ReadonlyMap<string, ModelTensor>, nLayers: number): FoldGroup[] {
  const get = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new FormatError(`missing tensor '${name}'`);
    return t;
  };
  const groups: FoldGroup[] = [];
  for (let l = 0; l < nLayers; l++) {
    const b = (n: string) => get(`blk.${l}.${n}.weight`);
    groups.push({ consumers: ['attn_q', 'attn_k', 'attn_v'].map((n) => matrixOf(b(n))), producer: { kind: 'norm', values: b('attn_norm').values } });
    groups.push({ consumers: ['ffn_gate', 'ffn_up'].map((n) => matrixOf(b(n))), producer: { kind: 'norm', values: b('ffn_norm').values } });
    groups.push({ consumers: [matrixOf(b('ffn_down'))], producer: { kind: 'rows', matrix: matrixOf(b('ffn_up')) } });
  }
  if (tensors.has('output.weight')) {
    groups.push({ consumers: [matrixOf(get('output.weight'))], producer: { kind: 'norm', values: get('output_norm.weight').values } });
  }
  return groups;
}

export interface QuantizeModelOptions {
  readonly method: QuantMethod;
  /** rtn / sinq: code width 2..8. presinq: ignored (the target type fixes it). */
  readonly bits?: QuantBits;
  /** rtn / sinq: scale group (default 64). */
  readonly group?: QuantGroup;
  /** rtn only: symmetric codes (default asymmetric). */
  readonly symmetric?: boolean;
  /** sinq only: the kurtosis gate (default off). */
  readonly kurtosisGate?: boolean;
  /** sinq only: one t per shared input (q|k|v, gate|up) instead of one per linear, the paper's setting (default false). */
  readonly sharedInputScale?: boolean;
  /** presinq only: GGUF type of the linears and token embedding (default Q4_0); 'F32' writes the folded model unquantized. */
  readonly target?: PreSinqTarget;
  readonly presinq?: PreSinqOptions;
  /** Called after each tensor with (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

const GGML_TYPE_ID = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, Q6_K: 14 } as const;
type WritableType = keyof typeof GGML_TYPE_ID;
const BLOCK_ELEMENTS: Record<WritableType, number> = { F32: 1, F16: 1, Q4_0: 32, Q8_0: 32, Q4_K: 256, Q6_K: 256 };
/** llama.cpp's general.file_type for the all-one-type files we write (LLAMA_FTYPE_MOSTLY_*). */
const FILE_TYPE: Record<PreSinqTarget, number> = { F32: 0, Q4_0: 2, Q8_0: 7, Q4_K: 14 };

function encodeTensor(t: ModelTensor, type: WritableType): GgufWriteTensor {
  let data: Uint8Array;
  if (type === 'F32') data = new Uint8Array(Float32Array.from(t.values).buffer);
  else if (type === 'F16') data = new Uint8Array(Uint16Array.from(t.values, f32ToF16).buffer);
  else data = quantize(type, t.values);
  return { name: t.name, ne: [...t.ne], typeId: GGML_TYPE_ID[type], data };
}

/**
 * The type llama-quantize gives each tensor for an all-`target` file (llama.cpp `llama_tensor_get_type`, no imatrix):
 * the output matrix Q6_K when its rows are whole 256-blocks else Q8_0 (Q8_0 files keep Q8_0), other matrices the
 * target, falling back to F16 where the row is not a whole number of blocks (stories260K's ffn_down, width 172); 1-D
 * tensors (norms) stay F32.
 */
export function llamaCppTensorType(name: string, ne: readonly number[], target: PreSinqTarget): WritableType {
  if (ne.length < 2 || target === 'F32') return 'F32';
  const fits = (type: WritableType) => ne[0]! % BLOCK_ELEMENTS[type] === 0;
  if (name === 'output.weight' && target !== 'Q8_0') return fits('Q6_K') ? 'Q6_K' : 'Q8_0';
  return fits(target) ? target : 'F16';
}

/** Converts a Llama GGUF model; returns the bytes of the new GGUF file. */
export async function quantizeGgufModel(file: GgufFile, options: QuantizeModelOptions): Promise<Uint8Array> {
  const arch = metaString(file, 'general.architecture');
  if (arch !== 'llama') throw new FormatError(`${file.source.name}: quantize supports the 'llama' architecture, not '${arch}'`);
  const nLayers = metaNumber(file, `${arch}.block_count`);
  const metadata = await readTypedMetadata(file);
  const tensors = await readModelF32(file);
  const linears = new Set(linearNames(nLayers, tensors.has('output.weight')));
  const out: GgufWriteTensor[] = [];
  const total = tensors.size;
  const progress = () => options.onProgress?.(out.length, total);

  if (options.method === 'presinq') {
    const target = options.target ?? 'Q4_0';
    foldPreSinq(preSinqGroups(tensors, nLayers), options.presinq);
    for (const t of tensors.values()) { out.push(encodeTensor(t, llamaCppTensorType(t.name, t.ne, target))); progress(); }
    metadata['general.file_type'] = { type: 'u32', value: FILE_TYPE[target] };
    metadata['general.quantization_version'] = { type: 'u32', value: 2 };
    // Informational only: the file is a standard GGUF (the function is unchanged, only the weights are rebalanced).
    metadata['qgpu.conversion'] = { type: 'string', value: `presinq ${target}` };
    return writeGguf(metadata, out);
  }

  const bits = options.bits;
  if (bits === undefined) throw new RangeError(`--bits is required for method ${options.method}`);
  const group = options.group ?? 64;
  const symmetric = options.method === 'rtn' && options.symmetric === true;
  // SINQ gives every linear its own t (the paper); `sharedInputScale` makes the readers of one input share one
  // (docs/quantization.md compares both). Every linear stores its t either way, so the runtime runs both files.
  const quantized = new Map<string, GgufWriteTensor[]>();
  const sharing = columnScaleGroups(nLayers, tensors.has('output.weight'), options.sharedInputScale === true);
  for (const names of sharing) {
    const ms = names.map((n) => matrixOf(tensors.get(n) ?? missing(n)));
    if (!groupFits(ms[0]!.cols, group)) continue;
    const results = options.method === 'sinq'
      ? quantizeSinqShared(ms, ms[0]!.cols, { bits, group, kurtosisGate: options.kurtosisGate === true })
      : ms.map((m) => ({ quant: quantizeRtn(m.values, m.rows, m.cols, { bits, group, symmetric }), colScale: undefined }));
    names.forEach((n, i) => quantized.set(n, groupTensors(n, results[i]!.quant, symmetric, results[i]!.colScale)));
  }
  for (const t of tensors.values()) {
    // Norms, the token embedding and linears whose width is not whole groups keep their source precision (F32 for
    // F32 sources; anything else is written as F16 so quantized inputs are not silently widened).
    out.push(...(quantized.get(t.name) ?? [encodeTensor(t, t.sourceType === 'F32' ? 'F32' : 'F16')]));
    progress();
  }
  const written = quantized.size;
  if (written === 0) throw new RangeError(`no linear layer has a width that is a multiple of the group size ${group}`);
  Object.assign(metadata, quantMetadata(options.method, bits, group, symmetric));
  return writeGguf(metadata, out);
}
