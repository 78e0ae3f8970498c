// Stop strings for streamed text. Generation ends as soon as the decoded text contains one of them; the stop string
// and anything after it are not part of the output (OpenAI's `stop` semantics). While streaming, text that could be
// the start of a stop string is held back until it is known not to be one, so a stop string split across tokens
// ("\n" + "\nUser:") never leaks its first half to the caller.

export interface StopStep {
  /** Text that is now safe to emit (may be empty). */
  readonly text: string;
  /** True when a stop string was found: the generation must end; `text` is what came before it. */
  readonly stopped: boolean;
}

export class StopMatcher {
  private readonly stops: string[];
  private pending = '';
  private done = false;

  constructor(stop: readonly string[] = []) {
    for (const s of stop) if (typeof s !== 'string' || s.length === 0) throw new RangeError('stop strings must be non-empty strings');
    this.stops = [...stop];
  }

  /** Feeds the next decoded piece. After a stop, further pieces are ignored. */
  push(piece: string): StopStep {
    if (this.done) return { text: '', stopped: true };
    if (this.stops.length === 0) return { text: piece, stopped: false };
    const buffer = this.pending + piece;
    let first = -1;
    for (const s of this.stops) {
      const at = buffer.indexOf(s);
      if (at !== -1 && (first === -1 || at < first)) first = at;
    }
    if (first !== -1) {
      this.done = true;
      this.pending = '';
      return { text: buffer.slice(0, first), stopped: true };
    }
    // Hold back the longest suffix of the buffer that is a proper prefix of some stop string.
    let hold = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, buffer.length); n > hold; n--) {
        if (buffer.endsWith(s.slice(0, n))) { hold = n; break; }
      }
    }
    this.pending = buffer.slice(buffer.length - hold);
    return { text: buffer.slice(0, buffer.length - hold), stopped: false };
  }

  /** At the end of generation: the held-back text, which turned out not to be a stop string. */
  flush(): string {
    const rest = this.done ? '' : this.pending;
    this.pending = '';
    return rest;
  }
}
