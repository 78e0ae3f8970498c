// What to do when generation fills the KV cache (GenerateOptions.contextOverflow, docs/architecture.md).
//   'stop'  — end with stopReason 'context_full'.
//   'shift' — keep the first n_keep tokens, drop the oldest half of the rest, and re-prefill what is kept from position
//             0, so every cached key is rotated for the position it now occupies (no stale positions, no re-rotation
//             kernel). Cost: one prefill of about (context + n_keep) / 2 tokens each time the cache fills, i.e. about
//             one prefilled token per generated token on average, done in prefill chunks.

export type ContextOverflow = 'stop' | 'shift';

/** Checks a context-overflow policy coming from outside TypeScript's reach (CLI flags, worker messages). */
export function checkContextOverflow(value: string): ContextOverflow {
  if (value === 'stop' || value === 'shift') return value;
  throw new Error(`unknown context overflow policy '${value}' (expected 'stop' or 'shift')`);
}

/** n_keep must leave at least half the context to the shifted part, so every shift frees room to generate. */
export function checkContextKeep(nKeep: number, contextLength: number): void {
  if (!Number.isInteger(nKeep) || nKeep < 0 || 2 * nKeep >= contextLength) {
    throw new RangeError(`contextKeep must be an integer in 0 … ${Math.ceil(contextLength / 2) - 1} (under half the context of ${contextLength}), got ${nKeep}`);
  }
}

/**
 * The tokens to re-prefill after a shift: `history` is every token so far (prompt and generated, the last one not yet
 * in the cache), which no longer fits a cache of `contextLength`. Keeps history[0 .. nKeep) and the newer half of the
 * rest (the older ⌈rest/2⌉ are dropped).
 */
export function shiftedContext(history: readonly number[], nKeep: number, contextLength: number): number[] {
  checkContextKeep(nKeep, contextLength);
  const rest = history.slice(nKeep);
  const kept = [...history.slice(0, nKeep), ...rest.slice(Math.ceil(rest.length / 2))];
  if (kept.length >= contextLength) throw new RangeError(`shifted context of ${kept.length} tokens still fills the context of ${contextLength}`);
  return kept;
}
