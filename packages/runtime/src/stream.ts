// Turns a callback-streaming call (`generate(…, onText)`, `chatCompletion(…, onDelta)`) into an async iterable of
// text pieces. This is how streams cross the worker boundary: comlink cannot pass an AsyncIterable, but it can pass
// a callback (packages/worker/src/callbacks.ts), so the worker streams through a callback and the main thread
// rebuilds the iterable here. Pieces travel on their own message channel, so the final result can overtake the
// last pieces: the stream ends with whatever part of the result's full text it has not yet yielded, and ignores
// pieces that arrive after that. In-process there is no such race and the same code is used.

export interface PieceStream<R> extends AsyncIterable<string> {
  /** The call's result; its full text is authoritative. */
  readonly result: Promise<R>;
}

/** Starts `start` now and streams the pieces it passes to its callback; `fullText` reads the text out of the result. */
export function pieceStream<R>(start: (onPiece: (piece: string) => void) => Promise<R>, fullText: (result: R) => string): PieceStream<R> {
  const queue: string[] = [];
  let wake = (): void => {};
  let streamed = '';
  let finished = false;
  let failure: { readonly error: unknown } | undefined;
  const push = (piece: string): void => {
    streamed += piece;
    queue.push(piece);
    wake();
  };
  const result = start((piece) => { if (!finished && piece) push(piece); });
  result.then(
    (r) => {
      const text = fullText(r);
      if (text.length > streamed.length && text.startsWith(streamed)) push(text.slice(streamed.length));
      finished = true;
      wake();
    },
    (error: unknown) => {
      failure = { error };
      finished = true;
      wake();
    },
  );
  async function* pieces(): AsyncGenerator<string> {
    while (true) {
      const next = queue.shift();
      if (next !== undefined) { yield next; continue; }
      if (failure) throw failure.error;
      if (finished) return;
      await new Promise<void>((resolve) => { wake = resolve; });
    }
  }
  return { result, [Symbol.asyncIterator]: pieces };
}
