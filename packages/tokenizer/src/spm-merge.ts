// The SentencePiece BPE merge loop of llama.cpp's `llm_tokenizer_spm_session::tokenize`, reproduced step for step so
// the ids match it exactly (ties included). Works on UTF-16 offsets of a JS string: every symbol starts as one whole
// code point, and symbols only ever grow by absorbing their right neighbour, so a symbol is always a contiguous
// slice whose text equals llama.cpp's byte slice.

/** A candidate merge of two adjacent symbols, as llama.cpp's `llm_bigram_spm`. */
interface Bigram {
  left: number;
  right: number;
  score: number;
  /** Combined length when queued; a mismatch later means one side has changed since (stale entry). */
  size: number;
}

/** llama.cpp's comparator: higher score first, then the leftmost pair. */
function before(a: Bigram, b: Bigram): boolean {
  return a.score > b.score || (a.score === b.score && a.left < b.left);
}

/** Minimal binary max-heap ordered by {@link before}; std::priority_queue in the original. */
class BigramQueue {
  private readonly items: Bigram[] = [];

  get size(): number {
    return this.items.length;
  }

  push(item: Bigram): void {
    const items = this.items;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!before(item, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  pop(): Bigram | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    const n = items.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let child = l;
      if (r < n && before(items[r]!, items[l]!)) child = r;
      if (!before(items[child]!, last)) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

/** What the merge loop needs from the vocabulary. */
export interface MergeVocab {
  /** Piece text -> id over every token (any type), as llama.cpp's `token_to_id`. */
  readonly pieceToId: ReadonlyMap<string, number>;
  readonly scores: ArrayLike<number>;
  /** Ids for a symbol that is not a token: one per UTF-8 byte (byte fallback). */
  byteFallback(text: string, output: number[]): void;
}

/**
 * Tokenizes one already-escaped fragment (spaces as '▁', space prefix already added) and appends the ids to `output`.
 */
export function spmMerge(text: string, vocab: MergeVocab, output: number[]): void {
  if (text.length === 0) return;

  // Split into code points: the initial symbols. Arrays of numbers rather than objects keep this allocation-light.
  const start: number[] = [];
  const len: number[] = [];
  for (let offs = 0; offs < text.length; ) {
    const cp = text.codePointAt(offs)!;
    const n = cp > 0xffff ? 2 : 1;
    start.push(offs);
    len.push(n);
    offs += n;
  }
  const count = start.length;
  const prev = Array.from({ length: count }, (_, i) => i - 1);
  const next = Array.from({ length: count }, (_, i) => (i + 1 < count ? i + 1 : -1));

  const queue = new BigramQueue();
  const tryAddBigram = (left: number, right: number): void => {
    if (left === -1 || right === -1) return;
    const size = len[left]! + len[right]!;
    const id = vocab.pieceToId.get(text.slice(start[left]!, start[left]! + size));
    if (id === undefined) return;
    queue.push({ left, right, score: vocab.scores[id]!, size });
  };

  // Seed with every adjacent pair.
  for (let i = 1; i < count; i++) tryAddBigram(i - 1, i);

  // Repeatedly apply the best merge. Entries are never removed from the queue when a neighbour changes; instead a
  // popped entry is skipped if either side has been absorbed (length 0) or has grown (size mismatch).
  for (let bigram = queue.pop(); bigram !== undefined; bigram = queue.pop()) {
    const { left, right } = bigram;
    const leftLen = len[left]!;
    const rightLen = len[right]!;
    if (leftLen === 0 || rightLen === 0 || leftLen + rightLen !== bigram.size) continue;

    len[left] = leftLen + rightLen;
    len[right] = 0;
    const after = next[right]!;
    next[left] = after;
    if (after >= 0) prev[after] = left;

    tryAddBigram(prev[left]!, left);
    tryAddBigram(left, after);
  }

  // Emit the surviving symbols. A merged symbol is always a token (merges only form pieces present in the vocab),
  // so llama.cpp's `resegment` reduces to: the symbol's own token, or byte fallback for a lone unknown code point.
  for (let i = 0; i !== -1; i = next[i]!) {
    const piece = text.slice(start[i]!, start[i]! + len[i]!);
    const id = vocab.pieceToId.get(piece);
    if (id !== undefined) output.push(id);
    else vocab.byteFallback(piece, output);
  }
}
