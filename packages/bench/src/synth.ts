// Synthetic models in the shapes of real ones (vocabulary, dims, GQA, layer count, tied embeddings), with seeded
// random weights (quantized by @qgpu/formats' llama.cpp reference quantizers; Q4_K blocks drawn directly, see
// randomQ4kBlocks) and a minimal SentencePiece vocabulary,
// so qgpu (and llama.cpp / wllama) load them like the real files. For benchmarks and scale tests: the text they
// generate is noise, but every byte moved and every dispatch is that of the real model.
//   node --import tsx packages/bench/src/synth.ts --shape llama-3.2-1b --type q4_0 [-o FILE]
// Files go to .cache/models/ (gitignored) by default; the same shape, type and seed always give the same bytes.
import { closeSync, existsSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { f32ToF16, ggufHeader, mulberry32, QUANT_BLOCK, quantize, type GgufTensorHeader, type GgufWriteValue, type QuantTypeName } from '@qgpu/formats';

export interface SynthShape {
  /** Stands for this released model (its config.json); only the shapes are copied, not the weights. */
  readonly model: string;
  readonly vocab: number;
  readonly dim: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly contextLength: number;
  readonly ropeTheta: number;
  readonly normEps: number;
}

/**
 * From each model's config.json. All three tie the output projection to the embedding. Qwen2.5's q/k/v biases and
 * its 'qwen2' architecture are not reproduced: the file is a 'llama' model with Qwen2.5-0.5B's shapes.
 */
export const SYNTH_SHAPES = {
  'smollm2-135m': { model: 'SmolLM2-135M', vocab: 49152, dim: 576, hidden: 1536, layers: 30, heads: 9, kvHeads: 3, contextLength: 8192, ropeTheta: 100000, normEps: 1e-5 },
  'qwen2.5-0.5b': { model: 'Qwen2.5-0.5B', vocab: 151936, dim: 896, hidden: 4864, layers: 24, heads: 14, kvHeads: 2, contextLength: 32768, ropeTheta: 1000000, normEps: 1e-6 },
  'llama-3.2-1b': { model: 'Llama-3.2-1B', vocab: 128256, dim: 2048, hidden: 8192, layers: 16, heads: 32, kvHeads: 8, contextLength: 131072, ropeTheta: 500000, normEps: 1e-5 },
} as const satisfies Record<string, SynthShape>;

export type SynthShapeName = keyof typeof SYNTH_SHAPES;
export const SYNTH_TYPES = ['q4_0', 'q8_0', 'q4_k'] as const;
export type SynthType = (typeof SYNTH_TYPES)[number];

const GGML_TYPE_ID: Record<'F32' | QuantTypeName, number> = { F32: 0, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q4_K: 12, Q6_K: 14 };

/**
 * The stored type of a matrix with `cols` inputs: the requested one, except that K-quants need cols % 256 == 0;
 * like llama-quantize, narrower rows fall back to Q5_0 (SmolLM2's 576 and Qwen2.5's 896 are such widths).
 */
export function matrixType(type: SynthType, cols: number): QuantTypeName {
  if (type === 'q4_k') return cols % 256 === 0 ? 'Q4_K' : 'Q5_0';
  return type === 'q4_0' ? 'Q4_0' : 'Q8_0';
}

function tensorBytes(typeName: 'F32' | QuantTypeName, elements: number): number {
  if (typeName === 'F32') return elements * 4;
  const block = QUANT_BLOCK[typeName];
  return (elements / block.elements) * block.bytes;
}

/**
 * A minimal SentencePiece vocabulary of exactly `size` tokens: <unk>, <s>, </s>, the 256 byte tokens, then
 * distinct "▁"-prefixed letter pieces with falling scores (so every text tokenizes, via byte fallback if need be).
 */
export function synthVocab(size: number): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (let i = 0; tokens.length < size; i++) {
    let piece = '';
    for (let n = i; ; n = Math.floor(n / 26) - 1) {
      piece = letters[n % 26]! + piece;
      if (n < 26) break;
    }
    tokens.push(`▁${piece}`);
    types.push(1);
  }
  const scores = tokens.map((_, i) => (i < 259 ? 0 : -(i - 259)));
  return { tokens: tokens.slice(0, size), scores: scores.slice(0, size), types: types.slice(0, size) };
}

interface PlannedTensor extends GgufTensorHeader {
  readonly typeName: 'F32' | QuantTypeName;
  /** Uniform half-range of the values before quantization (norm weights: around 1). */
  readonly scale: number;
  readonly norm: boolean;
}

function planTensors(shape: SynthShape, type: SynthType): PlannedTensor[] {
  const headDim = shape.dim / shape.heads;
  const kvDim = shape.kvHeads * headDim;
  const out: PlannedTensor[] = [];
  // ±√3·σ with σ = 0.02 (the usual init std), so activations stay finite through every layer.
  const scale = 0.02 * Math.sqrt(3);
  const matrix = (name: string, rows: number, cols: number) => {
    const typeName = matrixType(type, cols);
    out.push({ name, ne: [cols, rows], typeId: GGML_TYPE_ID[typeName], typeName, byteLength: tensorBytes(typeName, rows * cols), scale, norm: false });
  };
  const norm = (name: string, n: number) => out.push({ name, ne: [n], typeId: 0, typeName: 'F32', byteLength: n * 4, scale: 0.1, norm: true });
  matrix('token_embd.weight', shape.vocab, shape.dim);
  for (let l = 0; l < shape.layers; l++) {
    norm(`blk.${l}.attn_norm.weight`, shape.dim);
    matrix(`blk.${l}.attn_q.weight`, shape.dim, shape.dim);
    matrix(`blk.${l}.attn_k.weight`, kvDim, shape.dim);
    matrix(`blk.${l}.attn_v.weight`, kvDim, shape.dim);
    matrix(`blk.${l}.attn_output.weight`, shape.dim, shape.dim);
    norm(`blk.${l}.ffn_norm.weight`, shape.dim);
    matrix(`blk.${l}.ffn_gate.weight`, shape.hidden, shape.dim);
    matrix(`blk.${l}.ffn_up.weight`, shape.hidden, shape.dim);
    matrix(`blk.${l}.ffn_down.weight`, shape.dim, shape.hidden);
  }
  norm('output_norm.weight', shape.dim);
  return out;
}

function metadataOf(name: string, shape: SynthShape, seed: number): Record<string, GgufWriteValue> {
  const vocab = synthVocab(shape.vocab);
  return {
    'general.architecture': { type: 'string', value: 'llama' },
    'general.name': { type: 'string', value: name },
    'general.description': { type: 'string', value: `synthetic: ${shape.model} shapes, random weights (seed ${seed}), @qgpu/bench synth.ts` },
    'general.alignment': { type: 'u32', value: 32 },
    'llama.context_length': { type: 'u32', value: shape.contextLength },
    'llama.embedding_length': { type: 'u32', value: shape.dim },
    'llama.feed_forward_length': { type: 'u32', value: shape.hidden },
    'llama.block_count': { type: 'u32', value: shape.layers },
    'llama.attention.head_count': { type: 'u32', value: shape.heads },
    'llama.attention.head_count_kv': { type: 'u32', value: shape.kvHeads },
    'llama.rope.dimension_count': { type: 'u32', value: shape.dim / shape.heads },
    'llama.rope.freq_base': { type: 'f32', value: shape.ropeTheta },
    'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: shape.normEps },
    'llama.vocab_size': { type: 'u32', value: shape.vocab },
    'tokenizer.ggml.model': { type: 'string', value: 'llama' },
    'tokenizer.ggml.tokens': { type: 'array', elementType: 'string', value: vocab.tokens },
    'tokenizer.ggml.scores': { type: 'array', elementType: 'f32', value: vocab.scores },
    'tokenizer.ggml.token_type': { type: 'array', elementType: 'i32', value: vocab.types },
    'tokenizer.ggml.bos_token_id': { type: 'u32', value: 1 },
    'tokenizer.ggml.eos_token_id': { type: 'u32', value: 2 },
    'tokenizer.ggml.unknown_token_id': { type: 'u32', value: 0 },
    'tokenizer.ggml.add_bos_token': { type: 'bool', value: true },
  };
}

/** Rows generated and quantized at a time: bounds memory to a few MiB whatever the tensor. */
const ROWS_PER_SLICE = 256;

/**
 * Q4_K blocks drawn directly: random 4-bit codes and 6-bit sub-block scales/mins, with d and dmin chosen so values
 * span about ±√3·0.02 like the other types. The reference Q4_K quantizer (its iterative scale search) runs at
 * ~0.2 M values/s on this machine, 1.5 hours for the 1B shape; random blocks are equally valid Q4_K data.
 */
function randomQ4kBlocks(blocks: number, next: () => number): Uint8Array {
  const out = new Uint8Array(blocks * QUANT_BLOCK.Q4_K.bytes);
  const view = new DataView(out.buffer);
  // value = d·sc·q − dmin·m with q ∈ 0..15, sc, m ∈ 0..63: d = 0.0035/32, dmin = 0.0035/4 keep |value| ≲ 0.035.
  const d = f32ToF16(0.0035 / 32);
  const dmin = f32ToF16(0.0035 / 4);
  for (let b = 0; b < blocks; b++) {
    const o = b * QUANT_BLOCK.Q4_K.bytes;
    view.setUint16(o, d, true);
    view.setUint16(o + 2, dmin, true);
    for (let i = 4; i < QUANT_BLOCK.Q4_K.bytes; i++) out[o + i] = Math.floor(next() * 256);
  }
  return out;
}

/** The data of one tensor, slice by slice: seeded uniform values (norms around 1), quantized when asked. */
function* tensorData(t: PlannedTensor, seed: number): Generator<Uint8Array> {
  const [cols, rows = 1] = t.ne as [number, number?];
  const next = mulberry32(seed);
  for (let r = 0; r < rows; r += ROWS_PER_SLICE) {
    const n = Math.min(ROWS_PER_SLICE, rows - r) * cols;
    if (t.typeName === 'Q4_K') {
      yield randomQ4kBlocks(n / 256, next);
      continue;
    }
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = (t.norm ? 1 : 0) + (next() * 2 - 1) * t.scale;
    yield t.typeName === 'F32' ? new Uint8Array(values.buffer) : quantize(t.typeName, values);
  }
}

export function defaultSynthPath(shape: SynthShapeName, type: SynthType, seed = 1): string {
  const root = join(fileURLToPath(new URL('../../..', import.meta.url)), '.cache', 'models');
  return join(root, `synth-${shape}-${type}${seed === 1 ? '' : `-s${seed}`}.gguf`);
}

/**
 * Writes the synthetic GGUF to `path` (through a temporary file, renamed at the end, so an interrupted run never
 * leaves a truncated model behind) unless it already exists. Returns the path and whether it was written now.
 */
export function synthModel(
  shapeName: SynthShapeName, type: SynthType, options: { path?: string; seed?: number; log?: (line: string) => void; shape?: SynthShape } = {},
): { path: string; written: boolean } {
  const seed = options.seed ?? 1;
  const path = options.path ?? defaultSynthPath(shapeName, type, seed);
  if (existsSync(path)) return { path, written: false };
  // `shape` overrides the named shape's numbers (tests write tiny models with the same code).
  const shape: SynthShape = options.shape ?? SYNTH_SHAPES[shapeName];
  const tensors = planTensors(shape, type);
  const name = `synth-${shapeName}-${type}`;
  mkdirSync(dirname(path), { recursive: true });
  const partial = `${path}.partial`;
  const fd = openSync(partial, 'w');
  try {
    const header = ggufHeader(metadataOf(name, shape, seed), tensors, 32);
    writeSync(fd, header);
    const pad = new Uint8Array(32);
    const started = performance.now();
    let written = 0;
    tensors.forEach((t, i) => {
      // Each tensor has its own seed, so one tensor's values do not depend on the others' sizes.
      for (const slice of tensorData(t, (seed * 1_000_003 + i) >>> 0)) writeSync(fd, slice);
      const rem = t.byteLength % 32;
      if (rem) writeSync(fd, pad, 0, 32 - rem);
      written += t.byteLength;
      if (i % 20 === 0) options.log?.(`  ${name}: ${(written / 2 ** 20).toFixed(0)} MiB, ${((performance.now() - started) / 1000).toFixed(0)} s`);
    });
  } finally {
    closeSync(fd);
  }
  renameSync(partial, path);
  return { path, written: true };
}

function main(): void {
  const args = process.argv.slice(2);
  const value = (flag: string, short?: string) => {
    const i = args.findIndex((a) => a === flag || a === short);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const shape = value('--shape') as SynthShapeName | undefined;
  const type = (value('--type') ?? 'q4_0') as SynthType;
  if (!shape || !(shape in SYNTH_SHAPES)) throw new Error(`--shape must be one of ${Object.keys(SYNTH_SHAPES).join(', ')}`);
  if (!SYNTH_TYPES.includes(type)) throw new Error(`--type must be one of ${SYNTH_TYPES.join(', ')}`);
  const seed = Number(value('--seed') ?? 1);
  const out = value('-o', '--out');
  const { path, written } = synthModel(shape, type, { ...(out ? { path: out } : {}), seed, log: (l) => process.stderr.write(`${l}\n`) });
  console.log(`${written ? 'wrote' : 'exists'}: ${path}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
