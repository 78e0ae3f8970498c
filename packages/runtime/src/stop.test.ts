import { describe, expect, it } from 'vitest';
import { StopMatcher } from './stop.ts';

function feed(stops: string[], pieces: string[]) {
  const m = new StopMatcher(stops);
  const out: string[] = [];
  let stopped = false;
  for (const p of pieces) {
    const step = m.push(p);
    out.push(step.text);
    if (step.stopped) { stopped = true; break; }
  }
  return { out, stopped, rest: m.flush() };
}

describe('StopMatcher', () => {
  it('passes text through without stop strings', () => {
    expect(feed([], ['a', 'b'])).toEqual({ out: ['a', 'b'], stopped: false, rest: '' });
  });
  it('stops on a stop string split across pieces and never emits its first half', () => {
    expect(feed(['\nUser:'], ['Hello', ' wor', 'ld\nUs', 'er: hi'])).toEqual({ out: ['Hello', ' wor', 'ld', ''], stopped: true, rest: '' });
  });
  it('cuts at the earliest of several stop strings inside one piece', () => {
    expect(feed(['END', 'x'], ['abcxEND'])).toEqual({ out: ['abc'], stopped: true, rest: '' });
  });
  it('releases held-back text once it can no longer start a stop string, and at the end', () => {
    expect(feed(['xyz'], ['abx', 'q'])).toEqual({ out: ['ab', 'xq'], stopped: false, rest: '' });
    expect(feed(['xyz'], ['abx', 'y'])).toEqual({ out: ['ab', ''], stopped: false, rest: 'xy' });
  });
  it('rejects empty stop strings', () => {
    expect(() => new StopMatcher([''])).toThrow(/non-empty/);
  });
});
