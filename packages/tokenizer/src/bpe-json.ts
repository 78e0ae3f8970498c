// Hugging Face tokenizer.json → BpeVocab, for byte-level BPE models. Unsupported components (a WordPiece model, a
// Metaspace pre-tokenizer, an unusual normalizer) fail with a one-line error naming the component, rather than
// tokenizing differently from the model's training.
import { compilePattern, type AddedToken, type BpeVocab, type PreTokenizerStep } from './bpe.ts';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(message: string): never {
  throw new Error(`tokenizer.json: ${message}`);
}

function preTokenizerSteps(node: unknown): PreTokenizerStep[] {
  if (node === null || node === undefined) return [];
  if (!isObject(node)) fail('pre_tokenizer is not an object');
  switch (node.type) {
    case 'Sequence':
      if (!Array.isArray(node.pretokenizers)) fail('Sequence pre_tokenizer without pretokenizers');
      return (node.pretokenizers as unknown[]).flatMap(preTokenizerSteps);
    case 'ByteLevel':
      return [{ kind: 'byteLevel', addPrefixSpace: node.add_prefix_space === true, useRegex: node.use_regex !== false }];
    case 'Digits':
      return [{ kind: 'digits', individual: node.individual_digits === true }];
    case 'Split': {
      const pattern = node.pattern;
      if (!isObject(pattern)) fail('Split pre_tokenizer without a pattern');
      const source = typeof pattern.Regex === 'string' ? pattern.Regex
        : typeof pattern.String === 'string' ? pattern.String.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : fail('Split pattern is neither Regex nor String');
      const behavior = node.behavior === 'Isolated' ? 'isolated' : node.behavior === 'Removed' ? 'removed'
        : fail(`Split behavior ${JSON.stringify(node.behavior)} is not supported (Isolated, Removed)`);
      if (node.invert === true) fail('Split with invert: true is not supported');
      return [{ kind: 'split', pattern: compilePattern(source), behavior }];
    }
    default:
      return fail(`pre_tokenizer type ${JSON.stringify(node.type)} is not supported (ByteLevel, Split, Digits, Sequence)`);
  }
}

function normalizerOf(node: unknown): BpeVocab['normalizer'] {
  if (node === null || node === undefined) return 'none';
  if (!isObject(node)) fail('normalizer is not an object');
  if (node.type === 'Sequence' && Array.isArray(node.normalizers) && node.normalizers.length === 0) return 'none';
  if (node.type === 'NFC' || node.type === 'NFD' || node.type === 'NFKC' || node.type === 'NFKD') return node.type;
  return fail(`normalizer type ${JSON.stringify(node.type)} is not supported (none, NFC, NFD, NFKC, NFKD)`);
}

/** BOS from a TemplateProcessing post-processor whose single template starts with a special token. */
function bosOf(node: unknown, tokenToId: Map<string, number>): number {
  if (!isObject(node)) return -1;
  if (node.type === 'Sequence' && Array.isArray(node.processors)) {
    for (const p of node.processors as unknown[]) {
      const id = bosOf(p, tokenToId);
      if (id >= 0) return id;
    }
    return -1;
  }
  if (node.type !== 'TemplateProcessing' || !Array.isArray(node.single)) return -1;
  const first = node.single[0] as unknown;
  if (!isObject(first) || !isObject(first.SpecialToken)) return -1;
  const id = tokenToId.get(String(first.SpecialToken.id));
  return id ?? -1;
}

/**
 * Parses a tokenizer.json (already JSON.parse'd) with a byte-level BPE model. `eosToken` names the end-of-sequence
 * token (from generation_config / tokenizer_config; default: `<|endoftext|>`, `<|end_of_text|>` or `</s>` if present).
 */
export function bpeVocabFromTokenizerJson(json: unknown, options: { eosToken?: string; bosToken?: string } = {}): BpeVocab {
  if (!isObject(json)) fail('not a JSON object');
  const model = json.model;
  if (!isObject(model)) fail('missing model');
  if (model.type !== 'BPE') fail(`model type ${JSON.stringify(model.type)} is not supported (BPE)`);
  if (model.byte_fallback === true) fail('BPE with byte_fallback (SentencePiece-style) is not supported; only byte-level BPE');
  if (!isObject(model.vocab)) fail('model.vocab is not an object');
  if (!Array.isArray(model.merges)) fail('model.merges is not an array');

  const tokens: (string | undefined)[] = [];
  const tokenToId = new Map<string, number>();
  for (const [token, id] of Object.entries(model.vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= 1 << 24) fail(`model.vocab id of ${JSON.stringify(token)} is invalid`);
    tokens[id as number] = token;
    tokenToId.set(token, id as number);
  }
  const merges = (model.merges as unknown[]).map((m, i): [string, string] => {
    if (typeof m === 'string') {
      const at = m.indexOf(' ', 1);
      if (at < 0) fail(`merge ${i} ${JSON.stringify(m)} has no space`);
      return [m.slice(0, at), m.slice(at + 1)];
    }
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
    return fail(`merge ${i} is neither "a b" nor ["a", "b"]`);
  });

  const addedTokens: AddedToken[] = [];
  for (const t of (Array.isArray(json.added_tokens) ? json.added_tokens : []) as unknown[]) {
    if (!isObject(t) || typeof t.content !== 'string' || !Number.isInteger(t.id)) fail('an added_tokens entry lacks content or id');
    addedTokens.push({ id: t.id as number, content: t.content, special: t.special === true, lstrip: t.lstrip === true, rstrip: t.rstrip === true, singleWord: t.single_word === true });
    tokenToId.set(t.content, t.id as number);
  }

  const preTokenizer = preTokenizerSteps(json.pre_tokenizer);
  if (!preTokenizer.some((s) => s.kind === 'byteLevel')) fail('no ByteLevel pre_tokenizer: only byte-level BPE is supported');
  const find = (name: string | undefined) => (name === undefined ? undefined : tokenToId.get(name));
  const bosFromTemplate = bosOf(json.post_processor, tokenToId);
  const bosId = bosFromTemplate >= 0 ? bosFromTemplate : find(options.bosToken) ?? -1;
  const eosId = find(options.eosToken) ?? find('<|endoftext|>') ?? find('<|end_of_text|>') ?? find('</s>') ?? -1;
  return {
    tokens, merges, addedTokens, preTokenizer,
    normalizer: normalizerOf(json.normalizer),
    ignoreMerges: model.ignore_merges === true,
    bosId, eosId,
    addBos: bosFromTemplate >= 0,
  };
}


