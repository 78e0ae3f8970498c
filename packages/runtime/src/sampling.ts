// Token sampling on the CPU, for everything except plain greedy decoding (which stays on the GPU: the engine reads
// back only the argmax id, never the logits). The filters follow llama.cpp's sampler chain and its order
// (common/sampling.cpp defaults): repetition penalty → top-k → top-p → min-p → temperature → draw. So top-p and
// min-p see the probabilities before temperature, as in llama.cpp (HF transformers applies temperature first).
import { mulberry32 } from '@qgpu/formats';

/** Sampling settings; every field is optional and the defaults disable the filter. */
export interface SamplingOptions {
  /** 0 (default) is greedy; > 0 draws from softmax(logits / temperature) after the filters. */
  temperature?: number;
  /** Keep only the k most likely tokens; 0 (default) keeps all. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability sum reaches p; 1 (default) keeps all. */
  topP?: number;
  /** Drop tokens whose probability is below minP × the top token's probability; 0 (default) keeps all. */
  minP?: number;
  /**
   * llama.cpp's repeat penalty: the logit of every token seen in the last `repetitionLastN` tokens (prompt included)
   * is divided by this when positive and multiplied by it when negative. 1 (default) disables it.
   */
  repetitionPenalty?: number;
  /** Window of the repetition penalty in tokens (default 64, as llama.cpp; 0 disables, -1 means the whole context). */
  repetitionLastN?: number;
  /** Seed of the draw; the same seed, prompt and options give the same tokens (default 0). */
  seed?: number;
}

/** The defaults filled in, checked. */
export interface SamplingConfig {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly minP: number;
  readonly repetitionPenalty: number;
  readonly repetitionLastN: number;
  readonly seed: number;
}

export const DEFAULT_REPETITION_LAST_N = 64;

/** Fills in the defaults and rejects out-of-range values with a RangeError naming the option. */
export function samplingConfig(options: SamplingOptions = {}): SamplingConfig {
  const c: SamplingConfig = {
    temperature: options.temperature ?? 0,
    topK: options.topK ?? 0,
    topP: options.topP ?? 1,
    minP: options.minP ?? 0,
    repetitionPenalty: options.repetitionPenalty ?? 1,
    repetitionLastN: options.repetitionLastN ?? DEFAULT_REPETITION_LAST_N,
    seed: options.seed ?? 0,
  };
  const check = (ok: boolean, what: string, value: number) => {
    if (!ok) throw new RangeError(`${what}, got ${value}`);
  };
  check(Number.isFinite(c.temperature) && c.temperature >= 0, 'temperature must be a finite number ≥ 0', c.temperature);
  check(Number.isInteger(c.topK) && c.topK >= 0, 'topK must be an integer ≥ 0', c.topK);
  check(c.topP > 0 && c.topP <= 1, 'topP must be in (0, 1]', c.topP);
  check(c.minP >= 0 && c.minP <= 1, 'minP must be in [0, 1]', c.minP);
  check(Number.isFinite(c.repetitionPenalty) && c.repetitionPenalty > 0, 'repetitionPenalty must be a finite number > 0', c.repetitionPenalty);
  check(Number.isInteger(c.repetitionLastN) && c.repetitionLastN >= -1, 'repetitionLastN must be an integer ≥ -1', c.repetitionLastN);
  check(Number.isInteger(c.seed), 'seed must be an integer', c.seed);
  return c;
}

/**
 * True when the next token is the plain argmax of the logits, so the engine can pick it on the GPU. A repetition
 * penalty changes the logits first and so needs them on the CPU, even at temperature 0.
 */
export function isGreedy(config: SamplingConfig): boolean {
  return config.temperature === 0 && (config.repetitionPenalty === 1 || config.repetitionLastN === 0);
}

/**
 * llama.cpp's repeat penalty (llama_sampler_penalties): each distinct token among the last `lastN` of `history`
 * gets its logit divided by `penalty` if positive, multiplied if not. Returns a new array.
 */
export function applyRepetitionPenalty(logits: Float32Array, history: readonly number[], penalty: number, lastN: number): Float32Array {
  const out = new Float32Array(logits);
  if (penalty === 1 || lastN === 0) return out;
  const window = lastN < 0 ? history : history.slice(Math.max(0, history.length - lastN));
  for (const id of new Set(window)) {
    if (id < 0 || id >= out.length) continue;
    const v = out[id]!;
    out[id] = v > 0 ? v / penalty : v * penalty;
  }
  return out;
}

/** The tokens that survive the filters and their probabilities (sum 1), most likely first. */
export interface Distribution {
  readonly ids: Int32Array;
  readonly probs: Float64Array;
}

function softmaxOf(logits: ArrayLike<number>, ids: ArrayLike<number>, temperature: number): Float64Array {
  const probs = new Float64Array(ids.length);
  const max = logits[ids[0]!]!;
  let sum = 0;
  for (let i = 0; i < ids.length; i++) sum += probs[i] = Math.exp((logits[ids[i]!]! - max) / temperature);
  for (let i = 0; i < ids.length; i++) probs[i]! /= sum;
  return probs;
}

function maxOf(logits: Float32Array): number {
  let max = -Infinity;
  // NaN would poison the order and the softmax; a NaN logit means the forward pass is broken, so say so.
  for (const v of logits) {
    if (Number.isNaN(v)) throw new Error('the logits contain NaN');
    if (v > max) max = v;
  }
  return max;
}

/** The k-th largest value (k ≥ 1) by quickselect on a copy: O(n) on average, no full sort. */
export function kthLargest(values: Float32Array, k: number): number {
  const a = Float32Array.from(values);
  const target = a.length - k; // index in ascending order
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    // Median of three as the pivot keeps sorted or constant runs from going quadratic.
    const x = a[lo]!, y = a[mid]!, z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) { const t = a[i]!; a[i] = a[j]!; a[j] = t; i++; j--; }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target]!;
  }
  return a[target]!;
}

/**
 * The distribution the sampler draws from, for logits already penalised: ids sorted by logit (descending, ties by
 * id), then top-k, top-p and min-p on the un-tempered softmax (each keeps at least one token), then
 * softmax(logits / temperature) over the survivors. Temperature must be > 0.
 *
 * Cost: sorting a whole vocabulary takes tens of ms (49k ids: ~50 ms with a comparator, ~20 ms natively in V8), so
 * nothing of that size is sorted: top-k's cut is found by quickselect, and top-p sorts only the ids within a logit
 * window below the maximum, widening the window until it holds the top-p mass. Survivors are all any filter keeps.
 */
export function filteredDistribution(logits: Float32Array, config: Omit<SamplingConfig, 'seed' | 'repetitionPenalty' | 'repetitionLastN'>): Distribution {
  if (!(config.temperature > 0)) throw new RangeError(`filteredDistribution needs temperature > 0, got ${config.temperature}`);
  const vocab = logits.length;
  const max = maxOf(logits);
  const topK = config.topK > 0 && config.topK < vocab ? config.topK : vocab;
  const kth = topK < vocab ? kthLargest(logits, topK) : -Infinity;
  // p_i ≥ minP·p_max ⇔ logit_i ≥ logit_max + ln(minP), as llama.cpp tests it (no softmax needed).
  const minPFloor = config.minP > 0 ? max + Math.log(config.minP) : -Infinity;
  const hardFloor = Math.max(kth, minPFloor);
  // Top-p normalises over the top-k set (llama.cpp: softmax of the current candidates); ties at the k-th value count
  // only as often as they fit in k.
  let total = 0;
  if (config.topP < 1) {
    let above = 0;
    for (const v of logits) if (v > kth) { total += Math.exp(v - max); above++; }
    if (topK < vocab) total += (topK - above) * Math.exp(kth - max);
  }
  const byLogit = (a: number, b: number) => logits[b]! - logits[a]! || a - b;
  let eligible = 0;
  if (config.topP < 1) for (const v of logits) if (v >= hardFloor) eligible++;
  for (let width = 16; ; width *= 2) {
    const cut = config.topP < 1 ? Math.max(hardFloor, max - width) : hardFloor;
    const ids: number[] = [];
    for (let i = 0; i < vocab; i++) if (logits[i]! >= cut) ids.push(i);
    ids.sort(byLogit);
    let keep = Math.min(topK, ids.length);
    let reached = config.topP >= 1;
    if (!reached) {
      let cumulative = 0;
      for (let n = 0; n < keep; n++) {
        cumulative += Math.exp(logits[ids[n]!]! - max);
        if (cumulative >= config.topP * total) { keep = n + 1; reached = true; break; }
      }
    }
    // Done when top-p is met inside the window, or the window already holds everything the other filters keep
    // (then min-p, which keeps a prefix too, has cut the tail that top-p would have kept).
    if (reached || cut === hardFloor || ids.length === eligible) {
      const kept = Int32Array.from(ids.slice(0, Math.max(1, keep)));
      return { ids: kept, probs: softmaxOf(logits, kept, config.temperature) };
    }
  }
}

/**
 * Draws from softmax(logits / temperature) over the whole vocabulary without sorting it (the no-filter case):
 * inverse CDF in id order, one uniform number. Same distribution as filteredDistribution with no filters.
 */
export function drawFromSoftmax(logits: Float32Array, temperature: number, random: () => number): number {
  const max = maxOf(logits);
  const weights = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += weights[i] = Math.exp((logits[i]! - max) / temperature);
  const r = random() * sum;
  let cumulative = 0;
  for (let i = 0; i < weights.length; i++) {
    cumulative += weights[i]!;
    if (r < cumulative) return i;
  }
  return weights.length - 1;
}

/** Draws an index of `probs` (summing to 1) by inverse CDF with one uniform number from `random`. */
export function drawIndex(probs: Float64Array, random: () => number): number {
  const r = random();
  let cumulative = 0;
  for (let i = 0; i < probs.length; i++) {
    cumulative += probs[i]!;
    if (r < cumulative) return i;
  }
  return probs.length - 1;
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** A seeded sampler: one instance per generation, fed the logits of each step and the token history. */
export class Sampler {
  readonly config: SamplingConfig;
  private readonly random: () => number;

  constructor(options: SamplingOptions = {}) {
    this.config = samplingConfig(options);
    // The repo's one PRNG (@qgpu/formats' random.ts); one draw per sampled token.
    this.random = mulberry32(this.config.seed);
  }

  /** Picks the next token from `logits` given every token so far (prompt and generated, oldest first). */
  sample(logits: Float32Array, history: readonly number[]): number {
    const c = this.config;
    const penalised = applyRepetitionPenalty(logits, history, c.repetitionPenalty, c.repetitionLastN);
    if (c.temperature === 0) return argmax(penalised);
    if (c.topK === 0 && c.topP === 1 && c.minP === 0) return drawFromSoftmax(penalised, c.temperature, this.random);
    const { ids, probs } = filteredDistribution(penalised, c);
    return ids[drawIndex(probs, this.random)]!;
  }
}
