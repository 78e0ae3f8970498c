// The public engine interface. Declared once and used on both sides of the worker boundary (comlink).
import type { ChatCompletion, ChatCompletionRequest } from './chat-api.ts';
import type { SamplingOptions } from './sampling.ts';
import type { PerplexityOptions, PerplexityResult } from './perplexity.ts';
import type { PositionEncoding } from './llama/rope.ts';

export type { PerplexityOptions, PerplexityResult, PositionEncoding };

/** One file: a URL (fetched with HTTP range requests), a File/Blob, or bytes already in memory. */
export type ModelFile = string | Blob | Uint8Array;

/**
 * A Hugging Face Llama-family model by its files (docs/api.md, "Safetensors models"). JSON files may also be given
 * already parsed. `tokenizer` is a byte-level BPE tokenizer.json, or a GGUF file whose tokenizer is used (for
 * SentencePiece models).
 */
export interface HfModelSource<F = ModelFile> {
  /** model.safetensors, or every shard of a sharded checkpoint. */
  readonly safetensors: F | readonly F[];
  readonly config: F | Record<string, unknown>;
  readonly tokenizer: F | Record<string, unknown>;
  /** tokenizer_config.json: chat template, eos_token, add_bos_token. */
  readonly tokenizerConfig?: F | Record<string, unknown>;
  /** Shown as the model name when config.json has no _name_or_path. */
  readonly name?: string;
}

/**
 * Where a model comes from: a GGUF file (URL, File/Blob or bytes), an HF model's files, or an HF model's base URL
 * ending in '/' (config.json, tokenizer.json, tokenizer_config.json if present, model.safetensors or the shards
 * named by model.safetensors.index.json).
 */
export type ModelSource = ModelFile | HfModelSource;

/**
 * Quantize-on-load for safetensors models: each layer is read, quantized on the CPU (inside the worker when the
 * engine runs in one), uploaded and dropped, so the unquantized model is never held whole. 'sinq' (SINQ, methods.md
 * §2: asymmetric group codes plus a per-input-column scale t shared by the linears reading one input; default group
 * 64) and 'rtn' store qgpu group codes, run by the LUT kernels; 'rtn' at 4 or 8 bits with group 32 stores GGUF
 * Q4_0 / Q8_0 exactly as llama-quantize would, and 'presinq' folds SINQ scales into the norms before that (bits 4/8).
 */
export interface QuantizeOnLoad {
  readonly method: 'sinq' | 'presinq' | 'rtn';
  /** Code width: 2..8 (4 or 8 for 'presinq'). */
  readonly bits: number;
  /** Scale group along the input: 32, 64 or 128 (default 64 for group codes, 32 for GGUF blocks). */
  readonly group?: number;
}

/**
 * Load progress. 'download' (URL sources in browsers: the file streaming into the cache, or read back from it with
 * `fromCache: true`), then 'header', 'weights' (upload to the GPU), 'pipelines', and 'ready' at 100%.
 */
export interface LoadProgress {
  readonly phase: 'download' | 'header' | 'weights' | 'pipelines' | 'ready';
  readonly loadedBytes: number;
  /** 0 when unknown (a server without Content-Length). */
  readonly totalBytes: number;
  /** 'download' and 'weights': mean rate since the phase started, bytes per second. */
  readonly bytesPerSecond?: number;
  /** 'download' only: the bytes came from the browser cache, not the network. */
  readonly fromCache?: boolean;
}

export interface LoadOptions {
  onProgress?: (progress: LoadProgress) => void;
  /**
   * Maximum context (KV cache length) in tokens; defaults to the model's trained context. A longer context is allowed:
   * positions past the trained one are extrapolated unless `positionEncoding` maps them back.
   */
  contextLength?: number;
  /** How the linears run (default 'dequant'). */
  kernelPath?: KernelPath;
  /**
   * CrossQuant int8 activations on the dp4a path (methods.md §3): the column absmax of every linear's input from
   * `qgpu calibrate` (GGUF tensor name → [cols]) and the exponent α (1 = per-token absmax). docs/quantization.md.
   */
  crossQuant?: { readonly columnAbsMax: Readonly<Record<string, Float32Array>>; readonly alpha: number };
  /** Quantize a safetensors model while loading it (see QuantizeOnLoad); GGUF files are loaded as stored. */
  quantize?: QuantizeOnLoad;
  /**
   * URL sources: keep the file in the browser's Cache Storage (default true where it exists: browsers on https or
   * localhost). The first load downloads it once with progress; later loads, also after a reload, read it from
   * the cache without network. false: read the URL with HTTP range requests every time (cache.ts).
   */
  cache?: boolean;
  /** Expected SHA-256 of the model file (hex). Checked after download (or on the given Blob/bytes); a mismatch throws QgpuError 'integrity'. */
  sha256?: string;
  /**
   * Cancels the load (in-process engines; an AbortSignal cannot cross the worker boundary, so workers are stopped
   * with `terminate()`): checked between tensors; what was uploaded is freed and the call rejects with QgpuError
   * 'aborted'. A load still waiting for an earlier operation rejects at once.
   */
  signal?: AbortSignal;
  /**
   * How the KV cache stores keys and values (default 'f32'): 'f16' (half the memory) or 'int8' (a quarter, plus one
   * f32 scale per position and KV head). docs/architecture.md has the formats and measured agreement.
   */
  kvCache?: 'f32' | 'f16' | 'int8';
  /**
   * How positions are encoded (default `{ type: 'rope' }`, the model's own RoPE): `{ type: 'linear', factor }` (position
   * interpolation) or `{ type: '3d-rpe', chunkSize, mode: 'eq4' | 'chunked', interpolate? }` (docs/position-encoding.md).
   * 'chunked' needs kvCache 'f32'.
   */
  positionEncoding?: PositionEncoding;
  /**
   * Fusions that cut the decode plan's dispatches (default true: all; false: none; an object turns single ones off):
   * docs/performance.md "Fusions". Results are bit-identical either way; the switch exists for A/B benchmarks.
   */
  fuse?: boolean | FuseOptions;
}

/**
 * The fusions of LoadOptions.fuse, each on unless set to false. `qkv`: one [Wq; Wk; Wv] linear (fused at load when
 * the three share a stored type, have no SINQ column scale and, for the plan's q/k/v views, q_dim and kv_dim fit the
 * device's binding-offset alignment); `gateUp`: one linear with interleaved gate/up rows computing silu(gate)·up
 * (same conditions on w_gate / w_up); `residual`: the attention output and FFN down projections add into the
 * residual stream themselves (every layer, every format).
 */
export interface FuseOptions {
  readonly qkv?: boolean;
  readonly gateUp?: boolean;
  readonly residual?: boolean;
}

/**
 * How linears run: 'dequant' dequantizes the weights on the fly against f32 activations; 'dp4a' quantizes the
 * activations to int8 per block of 32 (as llama.cpp's CPU does) and uses integer dot products (WGSL dot4I8Packed) for
 * Q8_0, Q4_0 and Q4_K weights, every other format staying on dequant. 'lut' (T-MAC tables, methods.md §5) has its
 * ops (lutInput, linear on 'lut' weights) but is still rejected at load until the loader and workspace support it.
 */
export type KernelPath = 'dequant' | 'dp4a' | 'lut';

/**
 * Generation settings. The sampling fields (temperature, topK, topP, minP, repetitionPenalty, repetitionLastN, seed)
 * are documented on {@link SamplingOptions}; with all defaults decoding is greedy and the argmax stays on the GPU.
 */
export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate after the prompt (default 64). */
  maxTokens?: number;
  /** Stop as soon as the text contains one of these; the stop string is not part of the result (stopReason 'stop'). */
  stop?: string[];
  /** Prepend BOS when the model's tokenizer asks for it (default true). */
  addBos?: boolean;
  /** Stop at the end-of-sequence token (default true). */
  stopAtEos?: boolean;
  /**
   * Cancels this call (in-process engines; through a worker use `abort()`): while it waits behind another operation
   * it rejects with QgpuError 'aborted'; once generating it stops after the current token and resolves with
   * stopReason 'aborted' and the text so far, as `abort()` does.
   */
  signal?: AbortSignal;
  /**
   * When generation fills the KV cache: 'stop' (default) ends with stopReason 'context_full'; 'shift' keeps the first
   * `contextKeep` tokens, drops the oldest half of the rest and re-prefills what is kept (docs/architecture.md).
   */
  contextOverflow?: 'stop' | 'shift';
  /** Tokens at the start kept by a context shift (n_keep; default 1 when the prompt starts with BOS, else 0). */
  contextKeep?: number;
}

export interface GenerateStats {
  readonly promptTokens: number;
  readonly generatedTokens: number;
  readonly prefillMs: number;
  readonly decodeMs: number;
  readonly timeToFirstTokenMs: number;
  readonly prefillTokensPerSecond: number;
  readonly decodeTokensPerSecond: number;
}

export interface GenerateResult {
  readonly promptIds: number[];
  readonly generatedIds: number[];
  readonly text: string;
  readonly stopReason: 'max_tokens' | 'eos' | 'stop' | 'context_full' | 'aborted';
  /** Why generation stopped, in words, where the reason needs explaining (context_full). */
  readonly stopDetail?: string;
  /** Times the context was shifted (contextOverflow 'shift'); the in-process engine always sets it. */
  readonly contextShifts?: number;
  readonly stats: GenerateStats;
}

export interface ModelInfo {
  readonly name: string;
  readonly architecture: string;
  readonly dim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly weightBytes: number;
  /** The model's own chat template (Jinja source), or null when it has none and chat uses the plain fallback. */
  readonly chatTemplate: string | null;
}

export interface AdapterDescription {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  readonly features: string[];
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  /** The device limits qgpu requested and plans against. */
  readonly limits: Readonly<Record<string, number>>;
}

/** GPU memory held by the loaded model, in bytes. */
export interface EngineMemory {
  readonly weightBytes: number;
  readonly kvCacheBytes: number;
  /** Activations, logits, RoPE tables and other per-model buffers, KV cache excluded. */
  readonly workspaceBytes: number;
}

export interface EngineInfo {
  readonly adapter: AdapterDescription | null;
  readonly model: ModelInfo | null;
  readonly memory: EngineMemory | null;
}

/** Called with each decoded text piece as it becomes complete UTF-8 (multi-byte characters are never split). */
export type TextCallback = (piece: string, tokenId: number) => void;

export interface Engine {
  load(source: ModelSource, options?: LoadOptions): Promise<ModelInfo>;
  /** Generates from a prompt given as text (tokenized, BOS per the model) or as token ids (used as they are). */
  generate(prompt: string | readonly number[], options?: GenerateOptions, onText?: TextCallback): Promise<GenerateResult>;
  tokenize(text: string, addBos?: boolean): Promise<number[]>;
  /**
   * One OpenAI-shaped chat completion, streaming the reply's text through `onDelta`. Apps normally call
   * `chat.completions.create` (LocalEngine, WorkerEngine), which is built on this and also streams chunks.
   */
  chatCompletion(request: ChatCompletionRequest, onDelta?: TextCallback): Promise<ChatCompletion>;
  /**
   * Perplexity of `text` with llama.cpp's llama-perplexity protocol: windows of `context` tokens (default the loaded
   * context), BOS at each window start, only the second half of each window scored (docs/perplexity.md).
   */
  perplexity(text: string, options?: PerplexityOptions): Promise<PerplexityResult>;
  info(): Promise<EngineInfo>;
  /** Timings of the last finished generation or chat completion (prompt and decode tok/s, time to first token), or null. */
  stats(): Promise<GenerateStats | null>;
  /** Stops the running generation after the current token; its `generate` call resolves with stopReason 'aborted'. */
  abort(): Promise<void>;
  unload(): Promise<void>;
}
