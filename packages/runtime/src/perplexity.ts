// Perplexity with llama.cpp's `llama-perplexity` protocol (tools/perplexity/perplexity.cpp, function perplexity()),
// so numbers from qgpu and llama.cpp on the same text, model and context are comparable:
//   * the text is tokenized once with BOS in front (when the tokenizer adds BOS);
//   * it is cut into ⌊n_tokens / n_ctx⌋ windows of n_ctx tokens, window i = tokens[i·n_ctx, (i+1)·n_ctx); the
//     remainder is dropped; every window starts from an empty KV cache at position 0;
//   * the first token of every window is replaced by BOS (llama.cpp: "add BOS token for the first batch of each chunk");
//   * only the second half is scored: positions j = n_ctx/2 … n_ctx−2 predict token j+1, i.e. n_ctx − 1 − ⌊n_ctx/2⌋
//     predictions per window, so every scored token has at least n_ctx/2 tokens of context;
//   * ppl = exp(mean NLL over all scored tokens); the ± is llama.cpp's standard error of that mean, times ppl.
// One deviation, written down in docs/perplexity.md: llama.cpp refuses texts shorter than 2·n_ctx tokens; here one
// window (n_ctx tokens) is enough, and `windows` in the result says how many were scored.

/** Options of `perplexity` (the protocol above). */
export interface PerplexityOptions {
  /** Window length n_ctx in tokens (default: the model's context length). Must be ≥ 4 and ≤ the model's context. */
  context?: number;
  /** Score at most this many windows (llama.cpp --chunks); default all. */
  maxWindows?: number;
  /** Called after each window with its index and the running perplexity (llama.cpp prints `[i]ppl`). */
  onWindow?: (window: number, runningPpl: number) => void;
}

export interface PerplexityResult {
  /** exp(mean NLL) over every scored token. */
  readonly ppl: number;
  /** llama.cpp's ± on ppl: ppl · sqrt(var(NLL) / (count − 1)). */
  readonly pplStdErr: number;
  /** Mean negative log-likelihood in nats per scored token. */
  readonly nll: number;
  /** Tokens of the whole text, BOS included. */
  readonly tokens: number;
  /** Windows scored. */
  readonly windows: number;
  /** Window length n_ctx. */
  readonly context: number;
  /** Predictions scored: windows · (n_ctx − 1 − ⌊n_ctx/2⌋). */
  readonly scored: number;
  /** exp(mean NLL) of each window on its own. */
  readonly windowPpl: readonly number[];
}

/** What perplexity needs from a model: teacher-forced logits of `tokens` placed at positions startPos… */
export interface LogitsModel {
  /** Longest window the model's KV cache holds. */
  readonly contextLength: number;
  /** Vocabulary size: the length of each logits row. */
  readonly vocabSize: number;
  /** Runs `tokens` at positions startPos…; with 'all' returns one logits row per token, 'none' none. */
  forward(tokens: readonly number[], startPos: number, logitsOf: 'none' | 'all'): Promise<{ logits: Float32Array[] }>;
}

/** −log softmax(logits)[target], computed in double with the max subtracted (llama.cpp's log_softmax). */
export function negativeLogLikelihood(logits: Float32Array, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return Math.log(sum) + max - logits[target]!;
}

/** Positions per forward call while scoring, so only this many logits rows are held at once (vocab can be 150k). */
const SCORE_SLICE_TOKENS = 128;

/**
 * Perplexity of an already tokenized text (BOS first when the model uses it) under llama.cpp's protocol (file
 * comment). `bosId` replaces the first token of every window; pass undefined for models without BOS.
 */
export async function perplexityOfTokens(
  model: LogitsModel, tokens: readonly number[], bosId: number | undefined, options: PerplexityOptions = {},
): Promise<PerplexityResult> {
  const nCtx = options.context ?? model.contextLength;
  if (!Number.isInteger(nCtx) || nCtx < 4) throw new RangeError(`perplexity: the window must be an integer ≥ 4 tokens, got ${nCtx}`);
  if (nCtx > model.contextLength) {
    throw new RangeError(`perplexity: a window of ${nCtx} tokens exceeds the loaded context of ${model.contextLength}; load the model with contextLength ≥ ${nCtx}`);
  }
  const available = Math.floor(tokens.length / nCtx);
  if (available === 0) throw new RangeError(`perplexity: the text has ${tokens.length} tokens, fewer than one window of ${nCtx}`);
  const windows = Math.min(available, options.maxWindows ?? available);
  if (!Number.isInteger(windows) || windows < 1) throw new RangeError(`perplexity: maxWindows must be a positive integer, got ${options.maxWindows}`);
  const first = Math.floor(nCtx / 2);
  let nllSum = 0;
  let nllSqSum = 0;
  let count = 0;
  const windowPpl: number[] = [];
  for (let w = 0; w < windows; w++) {
    const ids = tokens.slice(w * nCtx, (w + 1) * nCtx);
    if (bosId !== undefined) ids[0] = bosId;
    // The unscored first half only fills the KV cache; every window restarts at position 0 (empty cache).
    await model.forward(ids.slice(0, first), 0, 'none');
    let windowNll = 0;
    for (let at = first; at < nCtx - 1; at += SCORE_SLICE_TOKENS) {
      const end = Math.min(at + SCORE_SLICE_TOKENS, nCtx - 1);
      const { logits } = await model.forward(ids.slice(at, end), at, 'all');
      for (let j = at; j < end; j++) {
        const nll = negativeLogLikelihood(logits[j - at]!, ids[j + 1]!);
        windowNll += nll;
        nllSqSum += nll * nll;
      }
    }
    const perWindow = nCtx - 1 - first;
    nllSum += windowNll;
    count += perWindow;
    windowPpl.push(Math.exp(windowNll / perWindow));
    options.onWindow?.(w, Math.exp(nllSum / count));
  }
  const nll = nllSum / count;
  const variance = nllSqSum / count - nll * nll;
  const ppl = Math.exp(nll);
  return {
    ppl,
    pplStdErr: variance > 0 && count > 1 ? ppl * Math.sqrt(variance / (count - 1)) : 0,
    nll,
    tokens: tokens.length,
    windows,
    context: nCtx,
    scored: count,
    windowPpl,
  };
}
