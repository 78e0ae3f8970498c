// Everything the engine checks about a parsed model file before it touches the GPU: the Llama hyperparameters, the
// tokenizer, every tensor's presence, type and shape, and whether the model fits the device's limits. A hostile or
// broken file fails here with a one-line FormatError (or a QgpuError for device limits), before any allocation.
import { groupTensorInfos, isGroupQuantized } from '@qgpu/quant';
import { assertSupportedType, FormatError, printable, type GgufFile, type GgufTensorInfo } from '@qgpu/formats';
import { tokenizerFromGguf, type Tokenizer } from '@qgpu/tokenizer';
import { QgpuError } from './errors.ts';
import { llamaConfigFromGguf, type LlamaConfig } from './llama/config.ts';
import { GGUF_NAMES } from './llama/names.ts';
import type { KvCacheType } from './ops.ts';

export interface CheckedModel {
  readonly config: LlamaConfig;
  readonly tokenizer: Tokenizer;
  /** The tensors the model uses, by name, with the shape each must have (GGML order, innermost first). */
  readonly tensors: ReadonlyMap<string, { readonly info: GgufTensorInfo; readonly ne: readonly number[] }>;
}

/** Tokenizer models the engine can build (tokenizerFromGguf). */
const TOKENIZER_MODELS = ['llama', 'gpt2'];

/**
 * The tokenizer, with its validation errors as FormatErrors naming the file. Only plain Errors (the tokenizer
 * package's validation messages) are converted: a TypeError or RangeError would be a bug, and stays visible.
 */
function checkedTokenizer(file: GgufFile): Tokenizer {
  const name = file.source.name;
  const model = file.metadata.get('tokenizer.ggml.model');
  if (model === undefined) throw new FormatError(`${name}: the file has no tokenizer (metadata 'tokenizer.ggml.model' is missing)`, 'missing');
  if (typeof model !== 'string' || !TOKENIZER_MODELS.includes(model)) {
    throw new FormatError(`${name}: unsupported tokenizer model ${typeof model === 'string' ? printable(model) : typeof model} (supported: ${TOKENIZER_MODELS.join(', ')})`, 'unsupported');
  }
  try {
    return tokenizerFromGguf(file.metadata);
  } catch (error) {
    if (error instanceof Error && error.constructor === Error) throw new FormatError(`${name}: invalid tokenizer: ${error.message}`, 'bad_tokenizer');
    throw error;
  }
}

/** Every tensor the Llama graph reads, with the GGML shape the config implies. */
function expectedTensors(config: LlamaConfig, hasOutput: boolean): [string, number[]][] {
  const { dim, hiddenDim, qDim, kvDim, vocabSize } = config;
  const out: [string, number[]][] = [[GGUF_NAMES.tokenEmbedding, [dim, vocabSize]], [GGUF_NAMES.outputNorm, [dim]]];
  if (hasOutput) out.push([GGUF_NAMES.output, [dim, vocabSize]]);
  for (let i = 0; i < config.nLayers; i++) {
    const n = GGUF_NAMES.layer(i);
    out.push([n.attnNorm, [dim]], [n.wq, [dim, qDim]], [n.wk, [dim, kvDim]], [n.wv, [dim, kvDim]], [n.wo, [qDim, dim]],
      [n.ffnNorm, [dim]], [n.wGate, [dim, hiddenDim]], [n.wUp, [dim, hiddenDim]], [n.wDown, [hiddenDim, dim]]);
  }
  return out;
}

/** Config, tokenizer and tensor table, all checked against each other; throws FormatError on the first problem. */
export function checkModelFile(file: GgufFile): CheckedModel {
  const name = file.source.name;
  const config = llamaConfigFromGguf(file);
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const hasOutput = byName.has(GGUF_NAMES.output) || isGroupQuantized(file, GGUF_NAMES.output);
  // Bounded before the list of names is built: a block_count the tensor table cannot back is an error at once.
  const needed = 2 + (hasOutput ? 1 : 0) + 9 * config.nLayers;
  if (needed > file.tensors.length) {
    throw new FormatError(`${name}: block_count ${config.nLayers} needs ${needed} tensors but the file has ${file.tensors.length}`, 'missing');
  }
  const tensors = new Map<string, { info: GgufTensorInfo; ne: number[] }>();
  for (const [tensorName, ne] of expectedTensors(config, hasOutput)) {
    // A group-quantized linear (qgpu.quant RTN / SINQ) has parts instead of the matrix; readGroupQuantized checks
    // their shapes at load. Its packed codes stand for it in the memory estimate.
    const codes = isGroupQuantized(file, tensorName) ? groupTensorInfos(file, tensorName).codes : undefined;
    if (codes) {
      tensors.set(tensorName, { info: codes, ne });
      continue;
    }
    const info = byName.get(tensorName);
    if (!info) throw new FormatError(`${name}: missing tensor '${tensorName}'`, 'missing');
    assertSupportedType(info, name);
    if (info.ne.length !== ne.length || info.ne.some((d, i) => d !== ne[i])) {
      throw new FormatError(`${name}: tensor '${tensorName}' has shape [${info.ne.join(', ')}] but the metadata implies [${ne.join(', ')}]`, 'bad_tensor');
    }
    tensors.set(tensorName, { info, ne });
  }
  const tokenizer = checkedTokenizer(file);
  // Found by the fuzzer: an out-of-range BOS id reads as "no BOS" and only failed at the first generate().
  if (tokenizer.addBos && tokenizer.bosId < 0) {
    throw new FormatError(`${name}: the tokenizer adds BOS (tokenizer.ggml.add_bos_token) but tokenizer.ggml.bos_token_id ${String(file.metadata.get('tokenizer.ggml.bos_token_id'))} is not a token`, 'bad_tokenizer');
  }
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new FormatError(`${name}: the tokenizer has ${tokenizer.vocabSize} tokens but token_embd.weight only ${config.vocabSize} rows`, 'bad_tokenizer');
  }
  return { config, tokenizer, tensors };
}

/** What a model will hold on the GPU, estimated from the file before anything is allocated. */
export interface GpuMemoryEstimate {
  readonly weightBytes: number;
  readonly kvCacheBytes: number;
  readonly workspaceBytes: number;
  readonly totalBytes: number;
  /** The largest single buffer that cannot be split, and what it is. */
  readonly largestBuffer: { readonly label: string; readonly bytes: number };
}

/**
 * Weights at their file size (the SoA repacking keeps quantized sizes; norms become f32), the KV cache at its
 * element size (f32 4 bytes, f16 2, int8 1 plus one f32 scale per position and KV head), and the activation workspace for a prefill chunk. Vocabulary-sized matrices are
 * split by rows when over the binding limit (row-split.ts), so they never count as the largest buffer.
 */
export function estimateGpuMemory(checked: CheckedModel, contextLength: number, kvCache: KvCacheType = 'f32', chunkTokens = 32): GpuMemoryEstimate {
  const { config } = checked;
  const f32 = 4;
  let weightBytes = 0;
  let largestBuffer = { label: 'none', bytes: 0 };
  const splittable: string[] = [GGUF_NAMES.tokenEmbedding, GGUF_NAMES.output];
  for (const [tensorName, { info, ne }] of checked.tensors) {
    const bytes = ne.length === 1 ? info.elementCount * f32 : info.byteLength;
    weightBytes += bytes;
    if (!splittable.includes(tensorName) && bytes > largestBuffer.bytes) largestBuffer = { label: `tensor '${tensorName}'`, bytes };
  }
  const kvRowBytes = kvCache === 'f32' ? config.kvDim * 4 : kvCache === 'f16' ? config.kvDim * 2 : config.kvDim + config.nKvHeads * 4;
  const kvLayerBytes = contextLength * kvRowBytes;
  const kvCacheBytes = 2 * config.nLayers * kvLayerBytes;
  if (kvLayerBytes > largestBuffer.bytes) largestBuffer = { label: `one layer's KV cache (${contextLength} tokens)`, bytes: kvLayerBytes };
  const chunk = Math.min(chunkTokens, contextLength);
  const { dim, qDim, kvDim, hiddenDim, vocabSize, ropeDim } = config;
  const activations = chunk * (3 * dim + 2 * qDim + 2 * kvDim + 2 * hiddenDim + vocabSize) * f32;
  const workspaceBytes = activations + contextLength * ropeDim * f32;
  return { weightBytes, kvCacheBytes, workspaceBytes, totalBytes: weightBytes + kvCacheBytes + workspaceBytes, largestBuffer };
}

export interface GpuLimits {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
}

/**
 * Refuses a model that cannot fit before any buffer is created: a buffer over the device's limits, or a total over
 * the caller's budget (EngineOptions.gpuMemoryBudgetBytes; browsers do not report free GPU memory, so a budget is
 * the only way to fail early on a total, and allocation errors are still caught by error scopes at load).
 */
export function checkGpuFit(estimate: GpuMemoryEstimate, limits: GpuLimits, budgetBytes?: number): void {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const { label, bytes } = estimate.largestBuffer;
  const bindingLimit = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  if (bytes > bindingLimit) {
    const which = limits.maxStorageBufferBindingSize <= limits.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
    throw new QgpuError('gpu_limits', `the model does not fit this GPU: ${label} needs ${mib(bytes)} but the device's ${which} is ${mib(bindingLimit)} (try a smaller contextLength or a more quantized file)`);
  }
  if (budgetBytes !== undefined && estimate.totalBytes > budgetBytes) {
    throw new QgpuError('gpu_limits', `the model needs about ${mib(estimate.totalBytes)} of GPU memory (weights ${mib(estimate.weightBytes)}, KV cache ${mib(estimate.kvCacheBytes)}, workspace ${mib(estimate.workspaceBytes)}) but the budget is ${mib(budgetBytes)}`);
  }
}
