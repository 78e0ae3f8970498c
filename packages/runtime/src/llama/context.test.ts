import { describe, expect, it } from 'vitest';
import { checkContextOverflow, shiftedContext } from './context.ts';

describe('shiftedContext', () => {
  const history = Array.from({ length: 17 }, (_, i) => 100 + i); // a full 16-token cache plus the next token

  it('keeps the first n_keep tokens and the newer half of the rest, in order', () => {
    // rest = 16 tokens after the one kept; the oldest 8 go.
    expect(shiftedContext(history, 1, 16)).toEqual([100, ...history.slice(9)]);
    // n_keep 0: the oldest ⌈17/2⌉ = 9 go.
    expect(shiftedContext(history, 0, 16)).toEqual(history.slice(9));
    expect(shiftedContext(history, 4, 16)).toEqual([100, 101, 102, 103, ...history.slice(4 + 7)]);
  });

  it('always leaves room to generate', () => {
    for (let ctx = 2; ctx < 40; ctx++) {
      const full = Array.from({ length: ctx + 1 }, (_, i) => i);
      for (let keep = 0; 2 * keep < ctx; keep++) expect(shiftedContext(full, keep, ctx).length).toBeLessThan(ctx);
    }
  });

  it('rejects an n_keep of half the context or more', () => {
    expect(() => shiftedContext(history, 8, 16)).toThrow(/contextKeep must be an integer in 0 … 7/);
    expect(() => shiftedContext(history, -1, 16)).toThrow(RangeError);
  });

  it('checks the policy name', () => {
    expect(checkContextOverflow('shift')).toBe('shift');
    expect(() => checkContextOverflow('truncate')).toThrow(/expected 'stop' or 'shift'/);
  });
});
