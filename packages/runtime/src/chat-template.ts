// Chat templates: the model's own Jinja template (GGUF `tokenizer.chat_template`, or `chat_template` in a HF
// tokenizer_config.json) rendered with @huggingface/jinja, the implementation transformers.js uses. Models without a
// template get FALLBACK_CHAT_TEMPLATE, a plain "User:/Assistant:" transcript (docs/api.md, "Chat templates").
import { Template } from '@huggingface/jinja';
import { QgpuError } from './errors.ts';

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant' | (string & {});
  readonly content: string;
}

/**
 * Used when a model has no chat template: the system message as a paragraph of its own, then one line per turn,
 * "User: …" and "Assistant: …", and "Assistant:" as the generation prompt. Generation through it stops at
 * "\nUser:" (FALLBACK_STOP) so the model does not write the user's next turn.
 */
export const FALLBACK_CHAT_TEMPLATE =
  "{% for message in messages %}{% if message.role == 'system' %}{{ message.content + '\\n\\n' }}" +
  "{% elif message.role == 'user' %}{{ 'User: ' + message.content + '\\n' }}" +
  "{% else %}{{ 'Assistant: ' + message.content + '\\n' }}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

export const FALLBACK_STOP: readonly string[] = ['\nUser:'];

/** What a model brings for chat: its template (null: none), its special-token strings and their ids. */
export interface ChatFormat {
  readonly template: string | null;
  readonly bosToken: string;
  readonly eosToken: string;
  /** Whether the tokenizer prepends BOS to a prompt by default (GGUF tokenizer.ggml.add_bos_token). */
  readonly addBos: boolean;
  readonly bosId: number;
  /** Control tokens by their text, e.g. "<|im_start|>", recognised in rendered prompts (llama.cpp parse_special). */
  readonly specialTokens: ReadonlyMap<string, number>;
}

export interface RenderOptions {
  /** End with the opening of an assistant turn (default true), as HF's `add_generation_prompt`. */
  addGenerationPrompt?: boolean;
}

const compiled = new Map<string, Template>();

function compile(source: string): Template {
  let template = compiled.get(source);
  if (!template) {
    try {
      template = new Template(source);
    } catch (error) {
      throw new QgpuError('template', `the model's chat template does not parse: ${(error as Error).message}`, { cause: error });
    }
    compiled.set(source, template);
  }
  return template;
}

/**
 * Renders `messages` with the format's template (or the fallback). Variables: `messages`, `add_generation_prompt`,
 * `bos_token`, `eos_token` (as transformers' apply_chat_template passes them); `raise_exception` is built in.
 */
export function renderChat(format: Pick<ChatFormat, 'template' | 'bosToken' | 'eosToken'>, messages: readonly ChatMessage[], options: RenderOptions = {}): string {
  checkMessages(messages);
  const template = compile(format.template ?? FALLBACK_CHAT_TEMPLATE);
  try {
    return template.render({
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: options.addGenerationPrompt ?? true,
      bos_token: format.bosToken,
      eos_token: format.eosToken,
    });
  } catch (error) {
    throw new QgpuError('template', `the chat template failed: ${(error as Error).message}`, { cause: error });
  }
}

function checkMessages(messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages) || messages.length === 0) throw new QgpuError('invalid_argument', 'messages must be a non-empty array');
  messages.forEach((m, i) => {
    if (typeof m !== 'object' || m === null || typeof m.role !== 'string' || typeof m.content !== 'string') {
      throw new QgpuError('invalid_argument', `messages[${i}] must be { role: string, content: string }`);
    }
  });
}

/**
 * Splits a rendered prompt at its control tokens (longest first), as llama.cpp's tokenizer does with
 * parse_special = true: the result alternates text fragments (to be tokenized) and token ids.
 */
export function splitSpecialTokens(text: string, specialTokens: ReadonlyMap<string, number>): (string | number)[] {
  const specials = [...specialTokens.keys()].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  let fragments: (string | number)[] = [text];
  for (const special of specials) {
    const id = specialTokens.get(special)!;
    fragments = fragments.flatMap((f) => {
      if (typeof f === 'number' || !f.includes(special)) return [f];
      const parts = f.split(special);
      return parts.flatMap((part, i) => (i === 0 ? (part ? [part] : []) : part ? [id, part] : [id]));
    });
  }
  return fragments;
}

/** llama.cpp's token types (GGUF tokenizer.ggml.token_type): 3 is a control token. */
const CONTROL = 3;

function metadataInt(value: unknown, fallback: number): number {
  if (typeof value === 'bigint') return Number(value);
  return typeof value === 'number' && Number.isInteger(value) ? value : fallback;
}

/**
 * The chat format of a GGUF model from its metadata alone (tokenizer.chat_template, tokenizer.ggml.tokens /
 * token_type / bos_token_id / eos_token_id / add_bos_token), so it works whatever tokenizer class the model uses.
 */
export function chatFormatFromGguf(metadata: ReadonlyMap<string, unknown>): ChatFormat {
  const template = metadata.get('tokenizer.chat_template');
  const tokens = metadata.get('tokenizer.ggml.tokens');
  const types = metadata.get('tokenizer.ggml.token_type');
  const pieces: readonly unknown[] = Array.isArray(tokens) ? tokens : [];
  const tokenTypes = (Array.isArray(types) || ArrayBuffer.isView(types) ? types : []) as ArrayLike<number | bigint>;
  const specialTokens = new Map<string, number>();
  pieces.forEach((piece, id) => {
    if (Number(tokenTypes[id]) === CONTROL && typeof piece === 'string' && piece) specialTokens.set(piece, id);
  });
  // Models loaded from safetensors carry their tokenizer.json whole: its special added tokens are the control tokens.
  const addedById = new Map<number, string>();
  for (const added of hfAddedTokens(metadata.get('tokenizer.huggingface.json'))) {
    addedById.set(added.id, added.content);
    if (added.special) specialTokens.set(added.content, added.id);
  }
  // GGUF writes "no such token" as uint32 max; -1 then, as llama.cpp reads it.
  const id = (key: string) => {
    const v = metadataInt(metadata.get(key), -1);
    return v >= 0 && (v < pieces.length || addedById.has(v)) ? v : -1;
  };
  const bosId = id('tokenizer.ggml.bos_token_id');
  const eosId = id('tokenizer.ggml.eos_token_id');
  const addBos = metadata.get('tokenizer.ggml.add_bos_token');
  const text = (i: number) => (i >= 0 && typeof pieces[i] === 'string' ? (pieces[i] as string) : addedById.get(i) ?? '');
  return {
    template: typeof template === 'string' && template.trim() !== '' ? template : null,
    bosToken: text(bosId),
    eosToken: text(eosId),
    // When the key is absent: llama.cpp's defaults, BOS for SentencePiece ("llama") vocabularies only.
    addBos: typeof addBos === 'boolean' ? addBos : metadata.get('tokenizer.ggml.model') === 'llama' && bosId >= 0,
    bosId,
    specialTokens,
  };
}

/** The `added_tokens` of a tokenizer.json given as text (GGUF key tokenizer.huggingface.json); [] if absent or malformed. */
function hfAddedTokens(json: unknown): { id: number; content: string; special: boolean }[] {
  if (typeof json !== 'string') return [];
  try {
    const added = (JSON.parse(json) as { added_tokens?: unknown }).added_tokens;
    if (!Array.isArray(added)) return [];
    return added.flatMap((t: { id?: unknown; content?: unknown; special?: unknown }) =>
      typeof t.id === 'number' && typeof t.content === 'string' && t.content ? [{ id: t.id, content: t.content, special: t.special === true }] : []);
  } catch {
    return [];
  }
}

/** A token in tokenizer_config.json: a plain string or an AddedToken object `{ content }`. */
function tokenText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return '';
}

/**
 * Template and special-token strings from a Hugging Face tokenizer_config.json (safetensors models). `chat_template`
 * may be a string or a list of named templates; the one named "default" (else the first) is used.
 */
export function chatTemplateFromTokenizerConfig(config: Record<string, unknown>): { template: string | null; bosToken: string; eosToken: string } {
  let template: unknown = config.chat_template;
  if (Array.isArray(template)) {
    const named = template as { name?: unknown; template?: unknown }[];
    template = (named.find((t) => t.name === 'default') ?? named[0])?.template;
  }
  return {
    template: typeof template === 'string' && template.trim() !== '' ? template : null,
    bosToken: tokenText(config.bos_token),
    eosToken: tokenText(config.eos_token),
  };
}
