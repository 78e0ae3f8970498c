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

/** The tokens that survive the filters (ascending id order) and their probabilities (sum 1). */
export interface Distribution {
  readonly ids: Int32Array;
  readonly probs: Float64Array;
}

function softmaxOf(logits: ArrayLike<number>, ids: ArrayLike<number>, temperature: number): Float64Array {
  const probs = new Float64Array(ids.length);
  let max = -Infinity;
  for (let i = 0; i < ids.length; i++) max = Math.max(max, logits[ids[i]!]!);
  let sum = 0;
  for (let i = 0; i < ids.length; i++) sum += probs[i] = Math.exp((logits[ids[i]!]! - max) / temperature);
  for (let i = 0; i < ids.length; i++) probs[i]! /= sum;
  return probs;
}

function maxOf(logits: Float32Array): number {
  let max = -Infinity;
  // NaN would poison the comparisons and the softmax; a NaN logit means the forward pass is broken, so say so.
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
 * The top-k set exactly as a sort would give it: every id above the k-th largest value, then ids equal to it in
 * ascending id order until there are k (ties broken by the lower id). Returned in ascending id order.
 */
function topKIds(logits: Float32Array, k: number): number[] {
  const kth = kthLargest(logits, k);
  let above = 0;
  for (const v of logits) if (v > kth) above++;
  let ties = k - above;
  const ids: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > kth || (v === kth && ties-- > 0)) ids.push(i);
  }
  return ids;
}

/**
 * Top-p on `ids` (ascending id order): the shortest prefix of the order "logit descending, then id ascending" whose
 * mass reaches `topP` of the total. Found without sorting everything: one pass builds a histogram of the mass over
 * the logit range, which locates the bucket where the cumulative mass crosses the target; only that bucket's ids
 * are sorted and walked. Returns the kept ids in ascending id order.
 */
function topPIds(logits: Float32Array, ids: number[], topP: number, max: number): number[] {
  const n = ids.length;
  const values = new Float64Array(n);
  const weights = new Float64Array(n);
  let min = Infinity;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = logits[ids[i]!]!;
    values[i] = v;
    total += weights[i] = Math.exp(v - max);
    if (v < min) min = v;
  }
  const target = topP * total;
  const buckets = 1024;
  const span = max - min;
  const bucketOf = (v: number): number => (span > 0 ? Math.min(buckets - 1, Math.floor(((v - min) / span) * buckets)) : 0);
  const mass = new Float64Array(buckets);
  const bucket = new Uint16Array(n);
  for (let i = 0; i < n; i++) mass[bucket[i] = bucketOf(values[i]!)]! += weights[i]!;
  // From the top bucket down: the bucket where the cumulative mass reaches the target.
  let above = 0;
  let crossing = buckets - 1;
  for (; crossing > 0; crossing--) {
    if (above + mass[crossing]! >= target) break;
    above += mass[crossing]!;
  }
  const inBucket: number[] = [];
  for (let i = 0; i < n; i++) if (bucket[i] === crossing) inBucket.push(i);
  inBucket.sort((a, b) => values[b]! - values[a]! || ids[a]! - ids[b]!);
  const keep = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (bucket[i]! > crossing) keep[i] = 1;
  let cumulative = above;
  for (const i of inBucket) {
    keep[i] = 1;
    cumulative += weights[i]!;
    if (cumulative >= target) break;
  }
  const kept: number[] = [];
  for (let i = 0; i < n; i++) if (keep[i] === 1) kept.push(ids[i]!);
  return kept;
}

/**
 * The distribution the sampler draws from, for logits already penalised: top-k, top-p and min-p on the un-tempered
 * softmax (each keeps at least one token; order of the filters and tie-breaking as a sort "logit descending, then
 * id ascending" would give), then softmax(logits / temperature) over the survivors, listed in ascending id order.
 * Temperature must be > 0.
 *
 * Nothing of vocabulary size is sorted (a 49k-id sort takes 20-50 ms in V8): top-k's cut comes from quickselect,
 * top-p's from a mass histogram over the logit range, min-p's from the maximum.
 */
export function filteredDistribution(logits: Float32Array, config: Omit<SamplingConfig, 'seed' | 'repetitionPenalty' | 'repetitionLastN'>): Distribution {
  if (!(config.temperature > 0)) throw new RangeError(`filteredDistribution needs temperature > 0, got ${config.temperature}`);
  const vocab = logits.length;
  const max = maxOf(logits);
  let ids: number[];
  if (config.topK > 0 && config.topK < vocab) ids = topKIds(logits, config.topK);
  else {
    ids = new Array<number>(vocab);
    for (let i = 0; i < vocab; i++) ids[i] = i;
  }
  if (config.topP < 1) ids = topPIds(logits, ids, config.topP, max);
  if (config.minP > 0) {
    // p_i ≥ minP·p_max ⇔ logit_i ≥ logit_max + ln(minP), as llama.cpp tests it (no softmax needed).
    const floor = max + Math.log(config.minP);
    ids = ids.filter((id) => logits[id]! >= floor);
  }
  const kept = Int32Array.from(ids);
  return { ids: kept, probs: softmaxOf(logits, kept, config.temperature) };
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
