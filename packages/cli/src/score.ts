import { negativeLogLikelihood, type LocalEngine } from '@qgpu/runtime';

export interface ScoreResult {
  ids: number[];
  /** Position i predicts token i + 1: nll = −log softmax(logits_i)[target]. */
  positions: { pos: number; target: number; nll: number; argmax: number }[];
  ppl: number;
}

export function argmaxOf(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Teacher-forced scoring of `text` (BOS first) in one context window, truncated to the model's context length. */
export async function scoreText(engine: LocalEngine, text: string): Promise<ScoreResult> {
  const loaded = engine.current;
  if (!loaded) throw new Error('no model is loaded');
  const ids = loaded.tokenizer.encode(text, { addBos: true }).slice(0, loaded.model.contextLength);
  if (ids.length < 2) throw new RangeError('the text is too short to score (needs at least one token after BOS)');
  const { logits } = await loaded.model.forward(ids, 0, 'all');
  const positions = [];
  let total = 0;
  for (let pos = 0; pos + 1 < ids.length; pos++) {
    const row = logits[pos]!;
    const target = ids[pos + 1]!;
    const nll = negativeLogLikelihood(row, target);
    total += nll;
    positions.push({ pos, target, nll, argmax: argmaxOf(row) });
  }
  return { ids, positions, ppl: Math.exp(total / positions.length) };
}
