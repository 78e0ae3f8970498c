// The public engine interface. Declared once and used on both sides of the worker boundary (comlink).
import type { ChatCompletion, ChatCompletionRequest } from './chat-api.ts';
import type { SamplingOptions } from './sampling.ts';

/** Where model bytes come from: a URL (fetched with HTTP range requests), a File/Blob, or bytes already in memory. */
export type ModelSource = string | Blob | Uint8Array;

export interface LoadProgress {
  readonly phase: 'header' | 'weights' | 'pipelines' | 'ready';
  readonly loadedBytes: number;
  readonly totalBytes: number;
}

export interface LoadOptions {
  onProgress?: (progress: LoadProgress) => void;
  /** Maximum context (KV cache length) in tokens; defaults to the model's trained context. */
  contextLength?: number;
  /** How the linears run (default 'dequant'). */
  kernelPath?: KernelPath;
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
  info(): Promise<EngineInfo>;
  /** Stops the running generation after the current token; its `generate` call resolves with stopReason 'aborted'. */
  abort(): Promise<void>;
  unload(): Promise<void>;
}
