import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { bytesSource, readGguf } from '@qgpu/formats';
import { SpmTokenizer, spmVocabFromGguf } from './index.ts';

const SHARED = process.env.QGPU_FIXTURES ?? new URL('../../../../shared/', import.meta.url).pathname;
const LLAMA_SPM = `${SHARED}/models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf`;
const STORIES = `${SHARED}/models/stories260K/stories260K-f32.gguf`;

async function loadTokenizer(path: string): Promise<SpmTokenizer> {
  const file = await readGguf(bytesSource(new Uint8Array(readFileSync(path)), path));
  return new SpmTokenizer(spmVocabFromGguf(file.metadata));
}

/**
 * llama.cpp's test-tokenizer-0 vectors: the .inp file split on "\n__ggml_vocab_test__\n" (each input thus loses the
 * newline before its separator; the final separator leaves an empty tail that is not a case), and one line of
 * space-separated ids per input in the .out file.
 */
function readVocabTests(): { text: string; ids: number[] }[] {
  const base = `${SHARED}/reference/ggml-vocab-llama-spm.gguf`;
  const inputs = readFileSync(`${base}.inp`, 'utf8').split('\n__ggml_vocab_test__\n');
  if (inputs.at(-1) === '') inputs.pop();
  const outputs = readFileSync(`${base}.out`, 'utf8').split('\n');
  if (outputs.at(-1) === '') outputs.pop();
  expect(outputs).toHaveLength(inputs.length);
  return inputs.map((text, i) => ({ text, ids: outputs[i]!.split(' ').filter((s) => s !== '').map(Number) }));
}

interface StoriesCase { text: string; ids_with_bos: number[]; pieces_with_bos: string[] }
const QUANTS = ['f32', 'f16', 'q8_0', 'q4_0'] as const;
function readStoriesCases(quant: string): StoriesCase[] {
  const path = `${SHARED}/reference/stories260K-${quant}.json`;
  return (JSON.parse(readFileSync(path, 'utf8')) as { tokenize: StoriesCase[] }).tokenize;
}

describe('llama.cpp test vectors (ggml-vocab-llama-spm)', () => {
  let tok: SpmTokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer(LLAMA_SPM);
  });
  const cases = readVocabTests();

  it('has the 46 cases of test-tokenizer-0', () => {
    expect(cases).toHaveLength(46);
  });

  it.each(cases.map((c, i) => [i, JSON.stringify(c.text).slice(0, 60), c] as const))('case %i: %s', (_i, _label, c) => {
    expect(tok.encode(c.text, { addBos: false })).toEqual(c.ids);
  });

  it('adds BOS by default (add_bos_token = true)', () => {
    expect(tok.addBos).toBe(true);
    expect(tok.encode('Hello world')).toEqual([1, 15043, 3186]);
    expect(tok.encode('')).toEqual([1]);
  });

  it('treats control-token text as plain text', () => {
    const ids = tok.encode('<s></s>', { addBos: false });
    expect(ids).not.toContain(tok.bosId);
    expect(ids).not.toContain(tok.eosId);
    expect(tok.decode(ids)).toBe('<s></s>');
  });
});

describe('stories260K tokenize references', () => {
  let tok: SpmTokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer(STORIES);
  });

  for (const quant of QUANTS) {
    it.each(readStoriesCases(quant).map((c) => [c.text, c] as const))(`${quant}: %s`, (_text, c) => {
      expect(tok.encode(c.text)).toEqual(c.ids_with_bos);
      expect(tok.encode(c.text, { addBos: false })).toEqual(c.ids_with_bos.slice(1));
    });
  }

  it('renders pieces like llama.cpp token_to_piece (control tokens empty, byte tokens as raw bytes)', () => {
    const decoder = new TextDecoder();
    for (const c of readStoriesCases('f32')) {
      c.ids_with_bos.forEach((id, i) => {
        const bytes = tok.tokenBytes(id);
        if (id === tok.bosId) expect(bytes).toHaveLength(0);
        else if (bytes.length === 1 && bytes[0]! >= 0x80) expect(c.pieces_with_bos[i]).toBe('\ufffd');
        else expect(decoder.decode(bytes)).toBe(c.pieces_with_bos[i]);
      });
    }
  });

  it('maps byte tokens and the space mark', () => {
    const newline = tok.encode('\n', { addBos: false }).at(-1)!;
    expect(Array.from(tok.tokenBytes(newline))).toEqual([0x0a]);
    expect(Array.from(tok.tokenBytes(tok.eosId))).toEqual([]);
    expect(() => tok.tokenBytes(tok.vocabSize)).toThrow(RangeError);
  });
});

describe('spmVocabFromGguf', () => {
  let metadata: ReadonlyMap<string, unknown>;
  beforeAll(async () => {
    metadata = (await readGguf(bytesSource(new Uint8Array(readFileSync(STORIES)), STORIES))).metadata;
  });

  it('reads the stories260K vocabulary with llama.cpp defaults', () => {
    const vocab = spmVocabFromGguf(metadata);
    expect(vocab.tokens).toHaveLength(512);
    expect(vocab.scores).toHaveLength(512);
    expect({ bos: vocab.bosId, eos: vocab.eosId, unk: vocab.unkId }).toEqual({ bos: 1, eos: 2, unk: 0 });
    expect(vocab.addBos).toBe(true); // key absent in this file
    expect(vocab.addSpacePrefix).toBe(true);
  });

  it.each(['tokenizer.ggml.model', 'tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type'])(
    'names the missing key %s',
    (key) => {
      const copy = new Map(metadata);
      copy.delete(key);
      expect(() => spmVocabFromGguf(copy)).toThrow(new RegExp(`missing key ${key.replaceAll('.', '\\.')}$`));
    },
  );

  it('rejects other tokenizer models', () => {
    const copy = new Map(metadata);
    copy.set('tokenizer.ggml.model', 'gpt2');
    expect(() => spmVocabFromGguf(copy)).toThrow(/"gpt2".*only "llama"/);
  });
});

describe('user-defined tokens (synthetic vocab)', () => {
  // llama.cpp splits user-defined tokens out of the text even with parse_special = false, and puts the space
  // prefix back in front of the raw text that follows one.
  const tokens = ['<unk>', '<s>', '</s>', '▁', 'a', 'b', '▁a', '<tag>', 'ab'];
  const tok = new SpmTokenizer({
    tokens,
    scores: [0, 0, 0, -1, -2, -2, -1, 0, -0.5],
    tokenTypes: [2, 3, 3, 1, 1, 1, 1, 4, 1],
    bosId: 1, eosId: 2, unkId: 0, addBos: false, addSpacePrefix: true,
  });

  it('partitions them out and re-adds the space prefix after them', () => {
    expect(tok.encode('ab<tag>ab')).toEqual([3, 8, 7, 3, 8]);
    expect(tok.decode([3, 8, 7, 3, 8])).toBe('ab<tag> ab');
  });

  it('falls back to unk when there are no byte tokens', () => {
    expect(tok.encode('ä')).toEqual([3, 0, 0]);
  });
});
