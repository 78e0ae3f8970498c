// Hugging Face Llama-family checkpoints (config.json + safetensors) presented to the loader as a GGUF file: the
// config becomes llama.cpp's `llama.*` metadata, HF tensor names become GGUF names, and each tensor is converted as
// the loader reads it (one range read per tensor): BF16 widened to F32, q/k rows permuted from HF's rotate_half
// order to GGUF's interleaved RoPE order, and with `quantize`, quantized on the CPU before upload. The loader,
// kernels and forward pass are then exactly those of GGUF models. See docs/formats.md.
import {
  f32ToF16, findQuantizedLinear, FormatError, packedRowBytes, printable, quantize as quantizeBlocks, QUANT_BLOCK, QUANT_SUFFIXES, readQuantHeader,
  readSafetensors, readSafetensorsBytes, safetensorsToF32, type FormatErrorCode, type QuantHeader,
  type ByteSource, type GgufFile, type GgufTensorInfo, type GgufValue, type SafetensorsFile, type SafetensorsTensorInfo,
} from '@qgpu/formats';
import type { QuantizeOnLoad } from '../engine-api.ts';
import {
  baseOf, columnScaleGroups, foldPreSinq, groupFits, groupTensors, llamaCppTensorType, preSinqGroups, QUANT_BITS, QUANT_GROUPS, quantizeRtn,
  quantizeSinqShared, quantMetadata, type ModelTensor, type PreSinqTarget, type QuantBits, type QuantGroup,
} from '@qgpu/quant';

/**
 * Quantize-on-load settings (engine-api.ts QuantizeOnLoad). 'presinq', and 'rtn' at 4/8 bits with group 32, store
 * GGUF Q4_0 / Q8_0 blocks; 'sinq' and other 'rtn' settings store qgpu group codes (asymmetric, SINQ's t per input).
 */
export type HfQuantizeOptions = QuantizeOnLoad;

/** HF module names inside `model.layers.N.` → GGUF tensor names inside `blk.N.`. */
const LAYER_NAMES: Readonly<Record<string, string>> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
};
const TOP_NAMES: Readonly<Record<string, string>> = {
  'model.embed_tokens.weight': 'token_embd.weight',
  'model.norm.weight': 'output_norm.weight',
  'lm_head.weight': 'output.weight',
};
/** GGUF names of the linears of a layer (the matrices quantize-on-load stores as group codes). */
const LINEAR_NAME = /^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/;
/** Buffers some exporters save that the model does not need (RoPE is computed from the config). */
const IGNORED = /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/;

/**
 * The GGUF name of an HF Llama tensor, or undefined for one the runtime ignores. Throws for a tensor it cannot
 * ignore without changing the model (biases, unknown modules), so such a checkpoint fails loudly.
 */
export function ggufNameOfHf(name: string, fileName = 'safetensors'): string | undefined {
  if (IGNORED.test(name)) return undefined;
  const top = TOP_NAMES[name];
  if (top) return top;
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  const inner = m ? LAYER_NAMES[m[2]!] : undefined;
  if (m && inner) return `blk.${Number(m[1])}.${inner}`;
  throw new FormatError(`${fileName}: tensor ${printable(name)} is not part of a Llama model qgpu can run (biases and other modules are unsupported)`, 'unsupported');
}

/**
 * Row permutation HF → GGUF for q_proj / k_proj. HF stores each head's rows in rotate_half order (first the cos
 * halves i = 0..d/2−1, then the sin halves); GGUF's RoPE rotates adjacent pairs (2i, 2i+1). llama.cpp's converter
 * (convert_hf_to_gguf `permute`: reshape(heads, 2, d/2, cols).swapaxes(1, 2)) therefore puts HF row j·d/2 + i of a
 * head at GGUF row 2i + j. Works on raw rows of any element size.
 */
export function permuteHfToGguf(rows: Uint8Array, nHeads: number, rowBytes: number): Uint8Array<ArrayBuffer> {
  return permuteHeads(rows, nHeads, rowBytes, (half, i, j) => [j * half + i, 2 * i + j]);
}

/** The inverse of {@link permuteHfToGguf}: GGUF interleaved rows → HF rotate_half rows (for writing HF files). */
export function permuteGgufToHf(rows: Uint8Array, nHeads: number, rowBytes: number): Uint8Array<ArrayBuffer> {
  return permuteHeads(rows, nHeads, rowBytes, (half, i, j) => [2 * i + j, j * half + i]);
}

function permuteHeads(rows: Uint8Array, nHeads: number, rowBytes: number, map: (half: number, i: number, j: number) => [from: number, to: number]): Uint8Array<ArrayBuffer> {
  const totalRows = rows.byteLength / rowBytes;
  const headDim = totalRows / nHeads;
  if (!Number.isInteger(totalRows) || !Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new FormatError(`cannot permute ${totalRows} rows into ${nHeads} heads of even size`, 'bad_tensor');
  }
  const half = headDim / 2;
  const out = new Uint8Array(rows.byteLength);
  for (let h = 0; h < nHeads; h++) {
    for (let j = 0; j < 2; j++) {
      for (let i = 0; i < half; i++) {
        const [from, to] = map(half, i, j);
        const src = (h * headDim + from) * rowBytes;
        out.set(rows.subarray(src, src + rowBytes), (h * headDim + to) * rowBytes);
      }
    }
  }
  return out;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Model types whose checkpoints follow the Llama layout (no biases, RMSNorm, SwiGLU, RoPE). */
const HF_LLAMA_TYPES = ['llama', 'mistral'];

/**
 * llama.cpp's `llama.*` metadata for an HF config.json (as convert_hf_to_gguf writes it). RoPE scaling becomes
 * `llama.rope.scaling.*` (linear, yarn); other scaling types are refused.
 */
export function llamaMetadataFromHfConfig(config: unknown, name = 'config.json'): Map<string, GgufValue> {
  const fail = (message: string, code: FormatErrorCode = 'bad_metadata'): never => {
    throw new FormatError(`${name}: ${message}`, code);
  };
  if (!isObject(config)) return fail('not a JSON object');
  const modelType = config.model_type;
  if (typeof modelType !== 'string' || !HF_LLAMA_TYPES.includes(modelType)) {
    fail(`model_type ${JSON.stringify(modelType)} is not supported (supported: ${HF_LLAMA_TYPES.join(', ')})`, 'unsupported');
  }
  if (config.attention_bias === true || config.mlp_bias === true) fail('attention_bias / mlp_bias are not supported', 'unsupported');
  if (typeof config.sliding_window === 'number' && config.use_sliding_window !== false && modelType === 'mistral') {
    fail('sliding-window attention is not supported', 'unsupported');
  }
  const int = (key: string, fallback?: number): number => {
    const v = config[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) return fail(`${key} must be a positive integer, got ${JSON.stringify(config[key])}`);
    return v;
  };
  const num = (key: string, fallback: number): number => {
    const v = config[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return fail(`${key} must be a positive number, got ${JSON.stringify(config[key])}`);
    return v;
  };
  const dim = int('hidden_size');
  const nHeads = int('num_attention_heads');
  const headDim = int('head_dim', dim / nHeads);
  const ropeTheta = num('rope_theta', 10000);
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', 'llama'],
    ['general.name', typeof config._name_or_path === 'string' && config._name_or_path ? config._name_or_path : name],
    ['llama.embedding_length', dim],
    ['llama.feed_forward_length', int('intermediate_size')],
    ['llama.block_count', int('num_hidden_layers')],
    ['llama.attention.head_count', nHeads],
    ['llama.attention.head_count_kv', int('num_key_value_heads', nHeads)],
    ['llama.attention.key_length', headDim],
    ['llama.attention.value_length', headDim],
    ['llama.rope.dimension_count', headDim],
    ['llama.rope.freq_base', ropeTheta],
    ['llama.context_length', int('max_position_embeddings')],
    ['llama.attention.layer_norm_rms_epsilon', num('rms_norm_eps', 1e-6)],
    ['llama.vocab_size', int('vocab_size')],
  ]);
  const scaling = config.rope_scaling;
  if (scaling === null || scaling === undefined) return metadata;
  if (!isObject(scaling)) return fail('rope_scaling is not an object');
  const type = scaling.rope_type ?? scaling.type;
  const factor = scaling.factor;
  if (typeof factor !== 'number' || !(factor > 0)) return fail(`rope_scaling.factor must be a positive number, got ${JSON.stringify(factor)}`);
  switch (type) {
    case 'linear':
      metadata.set('llama.rope.scaling.type', 'linear');
      metadata.set('llama.rope.scaling.factor', factor);
      return metadata;
    case 'yarn': {
      metadata.set('llama.rope.scaling.type', 'yarn');
      metadata.set('llama.rope.scaling.factor', factor);
      const original = scaling.original_max_position_embeddings;
      if (typeof original === 'number') metadata.set('llama.rope.scaling.original_context_length', original);
      return metadata;
    }
    default:
      // Llama 3.1's 'llama3' needs per-frequency factors (llama.cpp's rope_freqs tensor), which the kernels lack.
      return fail(`rope_scaling type ${JSON.stringify(type)} is not supported (linear, yarn)`, 'unsupported');
  }
}

const GGML_TYPE_IDS = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, Q6_K: 14, I8: 24 } as const;
type StoredType = keyof typeof GGML_TYPE_IDS;

/** One tensor of the virtual GGUF: where its HF bytes are and how to convert them. */
interface Entry {
  readonly info: GgufTensorInfo;
  readonly file: SafetensorsFile;
  readonly hf: SafetensorsTensorInfo;
  /** q/k: heads to permute by. */
  readonly heads?: number;
  /** Quantize-on-load unit: the tensors of one layer, or 'top' (embedding) / 'tail' (final norm and output). */
  readonly unit: string;
  /** Group-code part of matrix `matrix` (qgpu.quant layout); the matrix itself is then not in the file. */
  readonly part?: { readonly matrix: string; readonly suffix: string };
  /** The part is stored coded in the safetensors file itself (qgpu quantized safetensors): served as read. */
  readonly stored?: boolean;
}

export interface HfLlamaFiles {
  /** The safetensors file, or every shard of a sharded checkpoint. */
  readonly safetensors: ByteSource | readonly ByteSource[];
  /** config.json, parsed. */
  readonly config: unknown;
  /** Name for messages and general.name (e.g. the directory or URL). */
  readonly name?: string;
}

export interface HfLlamaOptions {
  readonly quantize?: HfQuantizeOptions;
}

/** How quantize-on-load stores the linears: GGUF blocks (pre-SINQ fold optional) or qgpu group codes. */
type QuantPlan =
  | { readonly kind: 'blocks'; readonly target: PreSinqTarget; readonly fold: boolean }
  | { readonly kind: 'groups'; readonly method: 'rtn' | 'sinq'; readonly bits: QuantBits; readonly group: QuantGroup };

function checkQuantize(q: HfQuantizeOptions): QuantPlan {
  if (!['rtn', 'sinq', 'presinq'].includes(q.method)) throw new RangeError(`quantize.method must be 'rtn', 'sinq' or 'presinq', got ${JSON.stringify(q.method)}`);
  if (!(QUANT_BITS as readonly number[]).includes(q.bits)) throw new RangeError(`quantize.bits must be 2..8, got ${q.bits}`);
  if (q.group !== undefined && !(QUANT_GROUPS as readonly number[]).includes(q.group)) throw new RangeError(`quantize.group must be 32, 64 or 128, got ${q.group}`);
  const blocks = (q.bits === 4 || q.bits === 8) && (q.group ?? 32) === 32;
  if (q.method === 'presinq') {
    if (!blocks) throw new RangeError(`quantize 'presinq' writes GGUF Q4_0 / Q8_0: bits must be 4 or 8 and group 32, got ${q.bits} / ${q.group}`);
    return { kind: 'blocks', target: q.bits === 4 ? 'Q4_0' : 'Q8_0', fold: true };
  }
  if (q.method === 'rtn' && blocks) return { kind: 'blocks', target: q.bits === 4 ? 'Q4_0' : 'Q8_0', fold: false };
  return { kind: 'groups', method: q.method, bits: q.bits as QuantBits, group: (q.group ?? 64) as QuantGroup };
}

/** Bytes of `values` stored as `type` (block types by llama.cpp's reference quantizer). */
function encodeAs(type: Exclude<StoredType, 'I8'>, values: Float32Array): Uint8Array {
  if (type === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (type === 'F16') return new Uint8Array(Uint16Array.from(values, f32ToF16).buffer);
  return quantizeBlocks(type, values);
}

function storedBytes(type: StoredType, elements: number): number {
  if (type === 'F32') return elements * 4;
  if (type === 'F16') return elements * 2;
  if (type === 'I8') return elements;
  const block = QUANT_BLOCK[type];
  return (elements / block.elements) * block.bytes;
}

/**
 * Opens an HF Llama checkpoint as a GGUF file for `LlamaModel.load`. Only the safetensors headers are read here;
 * tensor bytes are read (and converted, and quantized) when the loader asks for them, one tensor at a time, except
 * that quantize-on-load with SINQ reads one layer at a time (its fold needs the layer's norms and matrices together)
 * and drops each layer's unquantized values once encoded.
 */
export async function openHfLlama(files: HfLlamaFiles, options: HfLlamaOptions = {}): Promise<GgufFile> {
  const name = files.name ?? 'hf-model';
  const plan = options.quantize ? checkQuantize(options.quantize) : undefined;
  const metadata = llamaMetadataFromHfConfig(files.config, `${name}/config.json`);
  const nHeads = metadata.get('llama.attention.head_count') as number;
  const nKvHeads = metadata.get('llama.attention.head_count_kv') as number;
  const nLayers = metadata.get('llama.block_count') as number;

  const shards = Array.isArray(files.safetensors) ? files.safetensors as readonly ByteSource[] : [files.safetensors as ByteSource];
  if (shards.length === 0) throw new FormatError(`${name}: no safetensors file given`, 'missing');
  const found = new Map<string, { file: SafetensorsFile; hf: SafetensorsTensorInfo }>();
  // A qgpu-quantized checkpoint (docs/formats.md) stores linears as `<base>.qweight/.scales/.zeros/.col_scale`: each
  // part becomes the virtual GGUF's `<gguf base><suffix>` (the layout of gguf-layout.ts), so load.ts reads it as it
  // reads a quantized GGUF.
  let quantHeader: QuantHeader | undefined;
  const storedParts = new Map<string, { file: SafetensorsFile; hf: SafetensorsTensorInfo; matrix: string; suffix: string }>();
  const suffixes = Object.values(QUANT_SUFFIXES) as string[];
  for (const source of shards) {
    const file = await readSafetensors(source);
    const header = readQuantHeader(file);
    if (header) {
      if (quantHeader && JSON.stringify(quantHeader) !== JSON.stringify(header)) throw new FormatError(`${source.name}: qgpu.quant.* metadata differs between shards`, 'bad_metadata');
      quantHeader = header;
    }
    for (const hf of file.tensors) {
      const suffix = header ? suffixes.find((x) => hf.name.endsWith(x)) : undefined;
      if (suffix !== undefined) {
        const hfBase = hf.name.slice(0, -suffix.length);
        const matrix = ggufNameOfHf(hfBase + '.weight', source.name);
        if (matrix === undefined || !(matrix === 'output.weight' || LINEAR_NAME.test(matrix))) {
          throw new FormatError(`${source.name}: quantized tensor ${printable(hf.name)} is not a linear layer`, 'bad_tensor');
        }
        // Checks every part of the linear against the others and the header (shapes, dtypes, zeros when asymmetric).
        findQuantizedLinear(file, header!, hfBase);
        const gguf = baseOf(matrix) + suffix;
        if (storedParts.has(gguf) || found.has(matrix)) throw new FormatError(`${source.name}: tensor '${hf.name}' appears twice`, 'duplicate');
        storedParts.set(gguf, { file, hf, matrix, suffix });
        continue;
      }
      const gguf = ggufNameOfHf(hf.name, source.name);
      if (gguf === undefined) continue;
      if (found.has(gguf)) throw new FormatError(`${source.name}: tensor '${hf.name}' appears in more than one shard`, 'duplicate');
      if (hf.dtype !== 'F32' && hf.dtype !== 'F16' && hf.dtype !== 'BF16') {
        throw new FormatError(`${source.name}: tensor '${hf.name}' has dtype ${hf.dtype}; unquantized checkpoints must be F32, F16 or BF16`, 'unsupported');
      }
      const layer = /^blk\.(\d+)\./.exec(gguf);
      if (layer && Number(layer[1]) >= nLayers) throw new FormatError(`${source.name}: tensor '${hf.name}' is beyond num_hidden_layers ${nLayers}`, 'bad_tensor');
      found.set(gguf, { file, hf });
    }
  }

  if (quantHeader && plan) throw new FormatError(`${name}: the checkpoint is already quantized (qgpu.quant.method ${quantHeader.method}); load it without quantize`, 'unsupported');
  const matrices = found.size + new Set([...storedParts.values()].map((p) => p.matrix)).size;
  // Nothing may be sized by num_hidden_layers before the tensors back it (found by fuzzing: 2^31 layers hung here).
  if (9 * nLayers > matrices) {
    throw new FormatError(`${name}/config.json: num_hidden_layers ${nLayers} needs ${9 * nLayers} layer tensors but the checkpoint has ${matrices} tensors`, 'missing');
  }
  // From the tensors present, not from num_hidden_layers: a hostile config must not size any allocation.
  const linears = new Set([...found.keys()].filter((n) => n === 'output.weight' || LINEAR_NAME.test(n)));
  const entries: Entry[] = [];
  let offset = 0;
  const place = (ggufName: string, ne: number[], type: StoredType, rest: Omit<Entry, 'info'>) => {
    const elementCount = ne.reduce((a, b) => a * b, 1);
    const byteLength = storedBytes(type, elementCount);
    entries.push({ ...rest, info: { name: ggufName, ne, typeId: GGML_TYPE_IDS[type], typeName: type, byteOffset: offset, byteLength, elementCount } });
    offset += Math.ceil(byteLength / 32) * 32;
  };
  for (const [ggufName, { file, hf }] of found) {
    const ne = [...hf.shape].reverse();
    const heads = /\.attn_q\.weight$/.test(ggufName) ? nHeads : /\.attn_k\.weight$/.test(ggufName) ? nKvHeads : undefined;
    const unit = /^blk\.(\d+)\./.exec(ggufName)?.[0] ?? (ggufName === 'token_embd.weight' ? 'top' : 'tail');
    const rest = { file, hf, unit, ...(heads !== undefined ? { heads } : {}) };
    const [cols, rows] = ne as [number, number];
    if (plan?.kind === 'groups' && linears.has(ggufName) && groupFits(cols, plan.group)) {
      // The parts of one matrix, as @qgpu/quant's groupTensors writes them (asymmetric: zeros always present).
      const groups = cols / plan.group;
      const parts: [string, number[], StoredType][] = [
        [QUANT_SUFFIXES.codes, [packedRowBytes(cols, plan.bits), rows], 'I8'],
        [QUANT_SUFFIXES.scales, [groups, rows], 'F32'],
        [QUANT_SUFFIXES.zeros, [groups, rows], 'F32'],
        ...(plan.method === 'sinq' ? [[QUANT_SUFFIXES.colScale, [cols], 'F32'] as [string, number[], StoredType]] : []),
      ];
      for (const [suffix, partNe, type] of parts) place(baseOf(ggufName) + suffix, partNe, type, { ...rest, part: { matrix: ggufName, suffix } });
      continue;
    }
    const type: StoredType = plan?.kind === 'blocks' ? llamaCppTensorType(ggufName, ne, plan.target) : hf.dtype === 'F16' ? 'F16' : 'F32';
    place(ggufName, ne, type, rest);
  }
  for (const [gguf, { file, hf, matrix, suffix }] of storedParts) {
    const layer = /^blk\.(\d+)\./.exec(matrix);
    if (layer && Number(layer[1]) >= nLayers) throw new FormatError(`${file.source.name}: tensor '${hf.name}' is beyond num_hidden_layers ${nLayers}`, 'bad_tensor');
    const heads = suffix === QUANT_SUFFIXES.colScale ? undefined : /\.attn_q\.weight$/.test(matrix) ? nHeads : /\.attn_k\.weight$/.test(matrix) ? nKvHeads : undefined;
    const type: StoredType = suffix === QUANT_SUFFIXES.codes ? 'I8' : 'F32';
    place(gguf, [...hf.shape].reverse(), type, { file, hf, unit: 'stored', stored: true, part: { matrix, suffix }, ...(heads !== undefined ? { heads } : {}) });
  }
  const byOffset = new Map(entries.map((e) => [e.info.byteOffset, e]));

  /** F32 values of one entry in GGUF row order. */
  const valuesOf = async (e: Entry): Promise<Float32Array> => {
    const raw = await readSafetensorsBytes(e.file, e.hf);
    const values = safetensorsToF32(e.hf, raw, e.file.source.name);
    if (e.heads === undefined) return values;
    const rowBytes = (e.hf.shape[1] ?? 1) * 4;
    return new Float32Array(permuteHfToGguf(new Uint8Array(values.buffer), e.heads, rowBytes).buffer);
  };
  /** Unquantized read: the file's bytes (F16 kept as is) with the q/k permutation. */
  const plainBytes = async (e: Entry): Promise<Uint8Array> => {
    if (e.stored && e.info.typeName === 'I8') {
      const raw = await readSafetensorsBytes(e.file, e.hf);
      return e.heads === undefined ? raw : permuteHfToGguf(raw, e.heads, e.hf.shape[1]!);
    }
    if (e.info.typeName === 'F16') {
      const raw = await readSafetensorsBytes(e.file, e.hf);
      return e.heads === undefined ? raw : permuteHfToGguf(raw, e.heads, (e.hf.shape[1] ?? 1) * 2);
    }
    return encodeAs('F32', await valuesOf(e));
  };

  // Quantize-on-load keeps the encoded tensors of the current unit until the loader has read each of them once.
  const encoded = new Map<string, Uint8Array>();
  const encodeUnit = async (unit: string) => {
    const members = entries.filter((e) => e.unit === unit);
    // One f32 copy per stored matrix or vector of the unit (a group-coded matrix has several part entries).
    const tensors = new Map<string, ModelTensor>();
    for (const e of members) {
      const key = e.part?.matrix ?? e.info.name;
      if (!tensors.has(key)) tensors.set(key, { name: key, ne: [...e.hf.shape].reverse(), sourceType: e.hf.dtype, values: await valuesOf(e) });
    }
    if (plan?.kind === 'blocks' && plan.fold && unit !== 'top') {
      // preSinqGroups names layers blk.0..n−1: present this layer as blk.0 (the tail unit has no layer: n = 0).
      const layer = /^blk\.(\d+)\.$/.exec(unit);
      const renamed = new Map([...tensors].map(([k, t]) => [layer ? k.replace(unit, 'blk.0.') : k, t]));
      foldPreSinq(preSinqGroups(renamed, layer ? 1 : 0));
    }
    if (plan?.kind === 'groups') {
      // Every linear gets its own SINQ t, as `qgpu quantize` does by default (columnScaleGroups: layer 0's linears
      // from @qgpu/quant, renamed to this layer; the output alone).
      const layer = /^blk\.\d+\.$/.test(unit);
      const unitGroups = layer ? columnScaleGroups(1, false).map((g) => g.map((n) => n.replace('blk.0.', unit))) : [['output.weight']];
      for (const names of unitGroups) {
        const coded = names.filter((n) => tensors.has(n) && members.some((e) => e.part?.matrix === n));
        if (coded.length === 0) continue;
        const ms = coded.map((n) => { const t = tensors.get(n)!; return { values: t.values, rows: t.ne[1]!, cols: t.ne[0]! }; });
        const cols = ms[0]!.cols;
        const results = plan.method === 'sinq'
          ? quantizeSinqShared(ms, cols, { bits: plan.bits, group: plan.group }) // ms is one linear: its own t
          : ms.map((m) => ({ quant: quantizeRtn(m.values, m.rows, cols, { bits: plan.bits, group: plan.group }), colScale: undefined }));
        coded.forEach((n, i) => {
          for (const part of groupTensors(n, results[i]!.quant, false, results[i]!.colScale)) encoded.set(part.name, part.data);
        });
      }
    }
    for (const e of members) {
      if (e.part) continue;
      encoded.set(e.info.name, encodeAs(e.info.typeName as Exclude<StoredType, 'I8'>, tensors.get(e.info.name)!.values));
    }
  };

  const source: ByteSource = {
    name,
    byteLength: offset,
    async read(byteOffset, byteLength) {
      const e = byOffset.get(byteOffset);
      if (!e || e.info.byteLength !== byteLength) {
        throw new FormatError(`${name}: the converted model serves whole tensors only (asked for ${byteLength} bytes at ${byteOffset})`);
      }
      if (!plan) return plainBytes(e);
      if (!encoded.has(e.info.name)) await encodeUnit(e.unit);
      const bytes = encoded.get(e.info.name)!;
      encoded.delete(e.info.name);
      return bytes;
    },
  };
  if (plan?.kind === 'blocks') metadata.set('general.file_type', plan.target === 'Q4_0' ? 2 : 7);
  const groupHeader = plan?.kind === 'groups' ? { ...plan, symmetric: false } : quantHeader;
  if (groupHeader) {
    for (const [key, { value }] of Object.entries(quantMetadata(groupHeader.method, groupHeader.bits, groupHeader.group, groupHeader.symmetric))) metadata.set(key, value as GgufValue);
  }
  if (plan) metadata.set('qgpu.quantized_on_load', options.quantize!.method);
  return { version: 3, metadata, tensors: entries.map((e) => e.info), alignment: 32, dataOffset: 0, source };
}
