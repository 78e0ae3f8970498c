// Model sources for the engine: a GGUF file, or a Hugging Face model given as its files (config.json,
// model.safetensors or its shards, tokenizer.json, optionally tokenizer_config.json) or as a base URL ending in '/'.
// Either way the engine gets one GgufFile: HF models are presented by hf.ts, with their tokenizer carried in the
// GGUF-spec metadata key `tokenizer.huggingface.json` and the chat template in `tokenizer.chat_template`.
import { FormatError, readGguf, REMOTE_FETCH, type ByteSource, type GgufFile } from '@qgpu/formats';
import type { HfModelSource, LoadOptions, ModelFile, ModelSource } from '../engine-api.ts';
import { openSource } from '../engine.ts';
import { openHfLlama } from './hf.ts';
import { chatTemplateFromTokenizerConfig } from '../chat-template.ts';

/** An HF source whose files may also be ByteSources (in-process callers, e.g. the CLI's local files). */
export type LocalHfModelSource = HfModelSource<ModelFile | ByteSource>;

const isByteSourceLike = (v: unknown): v is ByteSource => typeof v === 'object' && v !== null && typeof (v as ByteSource).read === 'function';
/** A file to read (URL, Blob, bytes, ByteSource), as opposed to JSON given already parsed. */
const isFileLike = (v: unknown): v is ModelFile | ByteSource =>
  typeof v === 'string' || v instanceof Uint8Array || isByteSourceLike(v) || (typeof Blob !== 'undefined' && v instanceof Blob);

export function isHfModelSource(source: unknown): source is LocalHfModelSource {
  return typeof source === 'object' && source !== null && !isFileLike(source) && 'safetensors' in source;
}

/** The files of an HF model published under `baseUrl` (ending in '/'), with shards from model.safetensors.index.json. */
export async function hfSourceFromBaseUrl(baseUrl: string, signal?: AbortSignal): Promise<HfModelSource> {
  const init = { signal: signal ?? null, ...REMOTE_FETCH };
  const index = await fetch(`${baseUrl}model.safetensors.index.json`, init).catch(() => undefined);
  let safetensors: string[] = [`${baseUrl}model.safetensors`];
  if (index?.ok) {
    const json = (await index.json()) as { weight_map?: Record<string, string> };
    const shards = [...new Set(Object.values(json.weight_map ?? {}))];
    if (shards.length === 0) throw new FormatError(`${baseUrl}model.safetensors.index.json: empty weight_map`, 'bad_value');
    safetensors = shards.map((s) => baseUrl + s);
  } else {
    await index?.body?.cancel();
  }
  const tokenizerConfig = await fetch(`${baseUrl}tokenizer_config.json`, init).catch(() => undefined);
  const withConfig = tokenizerConfig?.ok ? { tokenizerConfig: (await tokenizerConfig.json()) as Record<string, unknown> } : {};
  if (!tokenizerConfig?.ok) await tokenizerConfig?.body?.cancel();
  return { safetensors, config: `${baseUrl}config.json`, tokenizer: `${baseUrl}tokenizer.json`, name: baseUrl, ...withConfig };
}

async function wholeFile(file: ModelFile | ByteSource, signal?: AbortSignal): Promise<{ bytes: Uint8Array; name: string }> {
  const source = await openSource(file, signal);
  return { bytes: await source.read(0, source.byteLength), name: source.name };
}

async function jsonOf(file: ModelFile | ByteSource | Record<string, unknown>, what: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
  if (!isFileLike(file)) return file;
  const { bytes, name } = await wholeFile(file, signal);
  try {
    const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new FormatError(`${name}: ${what} is not a valid JSON object (${(error as Error).message})`, 'bad_value');
  }
}

/**
 * Tokenizer metadata for the virtual GGUF: a tokenizer.json is carried whole (`tokenizer.huggingface.json`, model
 * 'gpt2': byte-level BPE); a GGUF file (e.g. a vocab-only file, or the GGUF a SentencePiece model came from) gives
 * its `tokenizer.*` keys as they are.
 */
async function tokenizerMetadata(file: ModelFile | ByteSource | Record<string, unknown>, signal?: AbortSignal): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  if (!isFileLike(file)) {
    out.set('tokenizer.ggml.model', 'gpt2');
    out.set('tokenizer.huggingface.json', JSON.stringify(file));
    return out;
  }
  const source = await openSource(file, signal);
  const magic = source.byteLength >= 4 ? new TextDecoder().decode(await source.read(0, 4)) : '';
  if (magic === 'GGUF') {
    const gguf = await readGguf(source);
    for (const [k, v] of gguf.metadata) if (k.startsWith('tokenizer.')) out.set(k, v);
    return out;
  }
  out.set('tokenizer.ggml.model', 'gpt2');
  out.set('tokenizer.huggingface.json', new TextDecoder().decode(await source.read(0, source.byteLength)));
  return out;
}

/** The token id named by tokenizer_config.json's eos_token (a string or {content}), looked up in tokenizer.json. */
function eosIdFromTokenizerConfig(tokenizerConfig: Record<string, unknown>, metadata: Map<string, unknown>): number | undefined {
  const eos = tokenizerConfig.eos_token;
  const content = typeof eos === 'string' ? eos : typeof eos === 'object' && eos !== null ? (eos as { content?: unknown }).content : undefined;
  const json = metadata.get('tokenizer.huggingface.json');
  if (typeof content !== 'string' || typeof json !== 'string') return undefined;
  const parsed = JSON.parse(json) as { added_tokens?: { id: number; content: string }[]; model?: { vocab?: Record<string, number> } };
  return parsed.added_tokens?.find((t) => t.content === content)?.id ?? parsed.model?.vocab?.[content];
}

/** Opens an HF model source as a GGUF file for the engine (quantizing on load when asked). */
export async function openHfModelSource(source: LocalHfModelSource, options: Pick<LoadOptions, 'quantize'> = {}, signal?: AbortSignal): Promise<GgufFile> {
  const config = await jsonOf(source.config, 'config.json', signal);
  const shardFiles = Array.isArray(source.safetensors) ? source.safetensors : [source.safetensors as ModelFile | ByteSource];
  const shards = await Promise.all(shardFiles.map((f) => openSource(f, signal)));
  const name = source.name ?? shards[0]?.name ?? 'model';
  const file = await openHfLlama({ safetensors: shards, config, name }, options.quantize ? { quantize: options.quantize } : {});
  const metadata = file.metadata as Map<string, unknown>;
  for (const [k, v] of await tokenizerMetadata(source.tokenizer, signal)) metadata.set(k, v);
  // config.json's ids are what transformers' generate() uses; they override the tokenizer's guesses.
  const eos = Array.isArray(config.eos_token_id) ? config.eos_token_id[0] : config.eos_token_id;
  const bos = config.bos_token_id;
  if (source.tokenizerConfig !== undefined) {
    const tokenizerConfig = await jsonOf(source.tokenizerConfig, 'tokenizer_config.json', signal);
    // chat_template may be a string or a list of named templates; the shared reader picks 'default' or the first.
    const { template } = chatTemplateFromTokenizerConfig(tokenizerConfig);
    if (template !== null) metadata.set('tokenizer.chat_template', template);
    const eosId = eosIdFromTokenizerConfig(tokenizerConfig, metadata);
    if (typeof eos !== 'number' && eosId !== undefined) metadata.set('tokenizer.ggml.eos_token_id', eosId);
    if (typeof tokenizerConfig.add_bos_token === 'boolean') metadata.set('tokenizer.ggml.add_bos_token', tokenizerConfig.add_bos_token);
  }
  if (typeof eos === 'number') metadata.set('tokenizer.ggml.eos_token_id', eos);
  if (typeof bos === 'number' && metadata.get('tokenizer.ggml.model') === 'gpt2') metadata.set('tokenizer.ggml.bos_token_id', bos);
  return file;
}

/** Whether `source` is a Hugging Face model: its files, or a base URL ending in '/'. */
export function isHfSource(source: unknown): source is LocalHfModelSource | string {
  return (typeof source === 'string' && source.endsWith('/')) || isHfModelSource(source);
}

/** Opens an HF model given by its files or its base URL (see {@link isHfSource}). */
export async function openHfModel(source: LocalHfModelSource | string, options: Pick<LoadOptions, 'quantize'> = {}, signal?: AbortSignal): Promise<GgufFile> {
  return openHfModelSource(typeof source === 'string' ? await hfSourceFromBaseUrl(source, signal) : source, options, signal);
}

/** A source that is not an HF model is a GGUF file, loaded as stored: quantize-on-load is refused for it. */
export function ggufSourceOf(source: ModelSource | ByteSource | LocalHfModelSource, options: Pick<LoadOptions, 'quantize'>): ModelFile | ByteSource {
  if (isHfSource(source)) throw new FormatError('internal: an HF model source reached the GGUF path', 'invalid');
  if (options.quantize) throw new FormatError('quantize on load needs a Hugging Face safetensors model (config.json + safetensors + tokenizer); GGUF files are loaded as stored', 'unsupported');
  return source as ModelFile | ByteSource;
}
