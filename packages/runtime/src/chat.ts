// The engine side of the OpenAI-shaped chat API (the caller side and the types are in chat-api.ts): runs inside
// LocalEngine, so inside the worker when there is one. It renders the chat template, maps the request onto
// generate() options and streams the reply's text through a callback.
import { FALLBACK_STOP, renderChat, splitSpecialTokens, type ChatFormat, type ChatMessage } from './chat-template.ts';
import type { GenerateOptions, GenerateResult, ModelInfo, TextCallback } from './engine-api.ts';
import { QgpuError } from './errors.ts';
import { completionId, type ChatCompletion, type ChatCompletionRequest, type FinishReason } from './chat-api.ts';

/** What the engine side needs: the loaded model's chat format, its tokenizer and its generate(). */
export interface ChatBackend {
  readonly format: ChatFormat;
  readonly info: ModelInfo;
  encode(text: string): number[];
  generate(promptIds: readonly number[], options: GenerateOptions, onText?: TextCallback): Promise<GenerateResult>;
}

function finishReason(stop: GenerateResult['stopReason']): FinishReason {
  if (stop === 'eos' || stop === 'stop') return 'stop';
  if (stop === 'aborted') return 'abort';
  return 'length';
}

/** The prompt ids of a rendered chat: control tokens recognised (parse_special), BOS added when the model wants it. */
export function chatPromptIds(backend: Pick<ChatBackend, 'format' | 'encode'>, rendered: string): number[] {
  const ids: number[] = [];
  for (const fragment of splitSpecialTokens(rendered, backend.format.specialTokens)) {
    if (typeof fragment === 'number') ids.push(fragment);
    else ids.push(...backend.encode(fragment));
  }
  const { addBos, bosId } = backend.format;
  // Templates that write bos_token themselves (Llama-2) already start with it; never add a second one.
  if (addBos && bosId >= 0 && ids[0] !== bosId) ids.unshift(bosId);
  return ids;
}

/** Maps the request onto generate() options, rejecting what is not supported with a clear error. */
export function generateOptionsOf(request: ChatCompletionRequest, format: ChatFormat, promptTokens: number, contextLength: number): GenerateOptions {
  if (request.n !== undefined && request.n !== 1) throw new QgpuError('unsupported', `n = ${request.n}: only one choice per request is supported`);
  for (const key of ['frequency_penalty', 'presence_penalty', 'logit_bias', 'tools', 'response_format'] as const) {
    const value = (request as unknown as Record<string, unknown>)[key];
    if (value !== undefined && value !== null && value !== 0) throw new QgpuError('unsupported', `${key} is not supported`);
  }
  const stop = request.stop === undefined ? [] : typeof request.stop === 'string' ? [request.stop] : [...request.stop];
  // Without a template of its own the model sees the fallback transcript; stop before it writes the user's turn.
  if (format.template === null) stop.push(...FALLBACK_STOP);
  const maxTokens = request.max_completion_tokens ?? request.max_tokens ?? Math.max(0, contextLength - promptTokens);
  const options: GenerateOptions = {
    maxTokens,
    temperature: request.temperature ?? 1,
    seed: request.seed ?? Math.floor(Math.random() * 2 ** 31),
    addBos: false,
    stop,
  };
  const optional: [keyof GenerateOptions, number | undefined][] = [
    ['topP', request.top_p], ['topK', request.top_k], ['minP', request.min_p],
    ['repetitionPenalty', request.repetition_penalty], ['repetitionLastN', request.repetition_last_n],
  ];
  for (const [key, value] of optional) if (value !== undefined && value !== null) Object.assign(options, { [key]: value });
  return options;
}

/** Engine side: one chat completion, streaming the reply's text through `onDelta`. */
export async function runChatCompletion(backend: ChatBackend, request: ChatCompletionRequest, onDelta?: TextCallback): Promise<ChatCompletion> {
  if (typeof request !== 'object' || request === null) throw new QgpuError('invalid_argument', 'the request must be an object');
  const rendered = renderChat(backend.format, request.messages);
  const promptIds = chatPromptIds(backend, rendered);
  const options = generateOptionsOf(request, backend.format, promptIds.length, backend.info.contextLength);
  const result = await backend.generate(promptIds, options, onDelta);
  return {
    id: completionId(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: backend.info.name,
    choices: [{ index: 0, message: { role: 'assistant', content: result.text }, finish_reason: finishReason(result.stopReason), logprobs: null }],
    usage: { prompt_tokens: result.stats.promptTokens, completion_tokens: result.stats.generatedTokens, total_tokens: result.stats.promptTokens + result.stats.generatedTokens },
    stats: result.stats,
  };
}

