// Reads each tensor by byte range, converts it to its GPU layout and uploads it, one tensor at a time.
import { assertSupportedType, FormatError, quantize, readTensorBytes, tensorToF32, type GgufFile, type GgufTensorInfo } from '@qgpu/formats';
import { uploadTensor, type GpuTensor } from '@qgpu/gpu';
import type { LlamaConfig } from './config.ts';
import { GGUF_NAMES } from './names.ts';
import { uploadRowSplit, type RowSplitWeight } from './row-split.ts';
import { uploadGroupWeight, uploadWeight, weightTensors, type CrossQuantInput, type LutOptions, type Weight } from './weight.ts';
import { fusionBlocker, interleaveRows, stackRows, type Fusions, type StoredMatrix } from './fuse.ts';
import { foldColumnPower, groupTensorInfos, isGroupQuantized, readGroupQuantized } from '@qgpu/quant';

export type { Weight } from './weight.ts';

export interface LayerWeights {
  readonly attnNorm: GpuTensor;
  /** Wq [q_dim, dim], Wk, Wv [kv_dim, dim]; or (fuse.ts) their rows stacked into one [q_dim + 2·kv_dim, dim] matrix. */
  readonly qkv: { readonly fused: Weight } | { readonly q: Weight; readonly k: Weight; readonly v: Weight };
  readonly wo: Weight;
  readonly ffnNorm: GpuTensor;
  /** W_gate, W_up [hidden_dim, dim]; or (fuse.ts) their rows interleaved into one [2·hidden_dim, dim] matrix. */
  readonly gateUp: { readonly fused: Weight } | { readonly gate: Weight; readonly up: Weight };
  readonly wDown: Weight;
}

/** Every linear of a layer, fused or not (for byte counts and tests). */
export function layerLinears(layer: LayerWeights): Weight[] {
  const qkv = 'fused' in layer.qkv ? [layer.qkv.fused] : [layer.qkv.q, layer.qkv.k, layer.qkv.v];
  const gateUp = 'fused' in layer.gateUp ? [layer.gateUp.fused] : [layer.gateUp.gate, layer.gateUp.up];
  return [...qkv, layer.wo, ...gateUp, layer.wDown];
}

export interface LlamaWeights {
  /** Split into row ranges when larger than one storage binding (row-split.ts), as is `output`. */
  readonly tokenEmbedding: RowSplitWeight;
  readonly layers: readonly LayerWeights[];
  readonly outputNorm: GpuTensor;
  /** The output projection; the same object as tokenEmbedding when the file ties them. */
  readonly output: RowSplitWeight;
  readonly totalBytes: number;
  destroy(): void;
}

/** CrossQuant calibration for the dp4a path: column absmax per linear (GGUF tensor name) and the exponent α. */
export interface CrossQuantOptions {
  readonly columnAbsMax: Readonly<Record<string, Float32Array>>;
  readonly alpha: number;
}

export interface LoadProgressSink {
  (loadedBytes: number, totalBytes: number): void;
}

/**
 * Finds every tensor the model needs and checks its type, before any device work or data read: a quantized or
 * incomplete file fails at once with a message naming the tensor. Returns the tensors by name.
 */
export function checkLlamaTensors(file: GgufFile, config: LlamaConfig): { find: (name: string) => GgufTensorInfo; names: string[]; hasOutput: boolean } {
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const fileName = file.source.name;
  const find = (name: string): GgufTensorInfo => {
    const t = byName.get(name);
    if (!t) throw new FormatError(`${fileName}: missing tensor '${name}'`);
    return t;
  };
  const hasOutput = byName.has(GGUF_NAMES.output) || isGroupQuantized(file, GGUF_NAMES.output);
  const names = [GGUF_NAMES.tokenEmbedding, GGUF_NAMES.outputNorm, ...(hasOutput ? [GGUF_NAMES.output] : []),
    ...Array.from({ length: config.nLayers }, (_, i) => Object.values(GGUF_NAMES.layer(i))).flat()];
  // A linear stored group-quantized (qgpu.quant RTN / SINQ, docs/quantization.md) has parts instead of the matrix.
  for (const n of names) if (!isGroupQuantized(file, n)) assertSupportedType(find(n), fileName);
  return { find, names, hasOutput };
}

/**
 * With `lut`, every linear whose width is a multiple of the group is converted to T-MAC bit-planes at load; the
 * token embedding stays in its stored format (it is gathered, not multiplied), and so does a tied output matrix.
 * The vocabulary-sized matrices are split into row ranges of at most `bindingLimitBytes` per GPU part (default: the
 * device's maxStorageBufferBindingSize; tests pass a small one to exercise the split). `fuse` says which load-time
 * fusions to make (fuse.ts); a layer whose parts cannot be fused keeps them apart.
 */
export async function loadLlamaWeights(
  device: GPUDevice, file: GgufFile, config: LlamaConfig, onProgress?: LoadProgressSink, signal?: AbortSignal, lut?: LutOptions,
  bindingLimitBytes: number = device.limits.maxStorageBufferBindingSize, crossQuant?: CrossQuantOptions,
  fuse: Pick<Fusions, 'qkv' | 'gateUp'> = { qkv: false, gateUp: false },
): Promise<LlamaWeights> {
  const fileName = file.source.name;
  const { find, names, hasOutput } = checkLlamaTensors(file, config);
  const fileBytes = (name: string) => (isGroupQuantized(file, name)
    ? Object.values(groupTensorInfos(file, name)).reduce((sum, t) => sum + t.byteLength, 0)
    : find(name).byteLength);
  const totalBytes = names.reduce((sum, n) => sum + fileBytes(n), 0);
  let loadedBytes = 0;
  const buffers: GpuTensor[] = [];
  // CrossQuant (dp4a path, docs/quantization.md): an integer-dot weight with calibration statistics is re-encoded in
  // its own type as W·diag(c^(1−α)); the column absmax and kernel counter are shared by the linears of one input.
  const crossInputs = new Map<string, CrossQuantInput>();
  const crossQuantFor = (name: string, { type, rows, cols, bytes, columnAbsMax: c }: StoredMatrix & { kind: 'blocks' }) => {
    if (!c || !crossQuant || !(type === 'Q8_0' || type === 'Q4_0' || type === 'Q4_K')) return undefined;
    const key = Array.from(c).join(',');
    const input = crossInputs.get(key) ?? {
      colMax: uploadTensor(device, `${name}.col_absmax`, [cols], 'f32', Float32Array.from(c)),
      alpha: crossQuant.alpha,
      zeroCount: uploadTensor(device, `${name}.zero_count`, [2], 'u32', new Uint32Array(2)),
    };
    crossInputs.set(key, input);
    const folded = foldColumnPower(Float32Array.from(tensorToF32(type, bytes, rows * cols)), rows, cols, c, crossQuant.alpha);
    return { bytes: quantize(type, folded), input };
  };

  const readChecked = async (info: GgufTensorInfo, expectedNe: number[]) => {
    signal?.throwIfAborted();
    if (info.ne.length !== expectedNe.length || info.ne.some((d, i) => d !== expectedNe[i])) {
      throw new FormatError(`${fileName}: tensor '${info.name}' has shape [${info.ne}] but the config implies [${expectedNe}]`);
    }
    const bytes = await readTensorBytes(file, info);
    loadedBytes += info.byteLength;
    onProgress?.(loadedBytes, totalBytes);
    return bytes;
  };

  // A linear is read in its stored form (readMatrix), then converted and uploaded (uploadMatrix): in between, the
  // parts of a fused matrix are stacked or interleaved (fuse.ts).
  const readMatrix = async (name: string, rows: number, cols: number): Promise<StoredMatrix> => {
    if (isGroupQuantized(file, name)) {
      signal?.throwIfAborted();
      const { quant, colScale } = await readGroupQuantized(file, name, rows, cols);
      loadedBytes += fileBytes(name);
      onProgress?.(loadedBytes, totalBytes);
      return { kind: 'groups', rows, cols, quant, ...(colScale ? { colScale } : {}) };
    }
    const info = find(name);
    const type = assertSupportedType(info, fileName);
    const bytes = await readChecked(info, [cols, rows]);
    const c = crossQuant?.columnAbsMax[name];
    if (c && c.length !== cols) throw new FormatError(`CrossQuant statistics for '${name}' have ${c.length} columns, the tensor ${cols}`);
    return { kind: 'blocks', rows, cols, type, bytes, ...(c ? { columnAbsMax: c } : {}) };
  };
  const uploadMatrix = (name: string, m: StoredMatrix): Weight => {
    const cq = m.kind === 'blocks' ? crossQuantFor(name, m) : undefined;
    const weight = m.kind === 'groups' ? uploadGroupWeight(device, name, m.quant, m.colScale)
      : cq ? { ...uploadWeight(device, name, m.type, cq.bytes, m.rows, m.cols), crossQuant: cq.input } as Weight
        : uploadWeight(device, name, m.type, m.bytes, m.rows, m.cols, lut);
    buffers.push(...weightTensors(weight));
    return weight;
  };
  const matrix = async (name: string, rows: number, cols: number): Promise<Weight> => uploadMatrix(name, await readMatrix(name, rows, cols));
  /** The parts as one matrix (`combine`) when fusing is asked for and possible (fusionBlocker), else each on its own. */
  const fusable = <P extends string>(fuseThem: boolean, fusedName: string, parts: Record<P, [name: string, m: StoredMatrix]>, combine: (ms: StoredMatrix[]) => StoredMatrix) => {
    const entries = Object.entries(parts) as [P, [string, StoredMatrix]][];
    const stored = entries.map(([, [, m]]) => m);
    if (fuseThem && !fusionBlocker(stored)) return { fused: uploadMatrix(fusedName, combine(stored)) };
    return Object.fromEntries(entries.map(([role, [name, m]]) => [role, uploadMatrix(name, m)])) as Record<P, Weight>;
  };
  const rowSplit = async (name: string, rows: number, cols: number, asLinear: boolean): Promise<RowSplitWeight> => {
    // Group-quantized matrices are not split (one piece): fine below the binding limit, which the LUT planes of a
    // vocabulary-sized matrix at ≤ 8 bits reach only past ~130M weights.
    if (isGroupQuantized(file, name)) return { rows, cols, pieces: [{ firstRow: 0, weight: await matrix(name, rows, cols) }] };
    // A CrossQuant-calibrated output matrix is one piece too (its activations come from one int8 quantization).
    if (asLinear && crossQuant?.columnAbsMax[name]) return { rows, cols, pieces: [{ firstRow: 0, weight: await matrix(name, rows, cols) }] };
    const info = find(name);
    const type = assertSupportedType(info, fileName);
    const bytes = await readChecked(info, [cols, rows]);
    const split = uploadRowSplit(device, name, type, bytes, rows, cols, bindingLimitBytes, asLinear ? lut : undefined);
    for (const { weight } of split.pieces) buffers.push(...weightTensors(weight));
    return split;
  };
  // Norm weights are tiny and read in f32 by the kernels whatever the file stores.
  const vector = async (name: string, length: number): Promise<GpuTensor> => {
    const info = find(name);
    const bytes = await readChecked(info, [length]);
    const data = uploadTensor(device, name, [length], 'f32', tensorToF32(assertSupportedType(info, fileName), bytes, length));
    buffers.push(data);
    return data;
  };

  // A failure part-way (a bad tensor, an abort between tensors) frees what was already uploaded.
  try {
    const { dim, hiddenDim, qDim, kvDim, vocabSize } = config;
    const tokenEmbedding = await rowSplit(GGUF_NAMES.tokenEmbedding, vocabSize, dim, false);
    const layers: LayerWeights[] = [];
    for (let i = 0; i < config.nLayers; i++) {
      const n = GGUF_NAMES.layer(i);
      const attnNorm = await vector(n.attnNorm, dim);
      const qkv = fusable(fuse.qkv, `blk.${i}.attn_qkv.weight`, {
        q: [n.wq, await readMatrix(n.wq, qDim, dim)],
        k: [n.wk, await readMatrix(n.wk, kvDim, dim)],
        v: [n.wv, await readMatrix(n.wv, kvDim, dim)],
      }, stackRows);
      const wo = await matrix(n.wo, dim, qDim);
      const ffnNorm = await vector(n.ffnNorm, dim);
      const gateUp = fusable(fuse.gateUp, `blk.${i}.ffn_gate_up.weight`, {
        gate: [n.wGate, await readMatrix(n.wGate, hiddenDim, dim)],
        up: [n.wUp, await readMatrix(n.wUp, hiddenDim, dim)],
      }, ([gate, up]) => interleaveRows(gate!, up!));
      layers.push({ attnNorm, qkv, wo, ffnNorm, gateUp, wDown: await matrix(n.wDown, dim, hiddenDim) });
    }
    const outputNorm = await vector(GGUF_NAMES.outputNorm, dim);
    const output = hasOutput ? await rowSplit(GGUF_NAMES.output, vocabSize, dim, true) : tokenEmbedding;
    return {
      tokenEmbedding, layers, outputNorm, output, totalBytes,
      destroy: () => buffers.forEach((t) => t.buffer.destroy()),
    };
  } catch (error) {
    buffers.forEach((t) => t.buffer.destroy());
    throw error;
  }
}
