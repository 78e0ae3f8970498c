import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { bytesSource, readGguf } from '@qgpu/formats';
import { SpmTokenizer, spmVocabFromGguf } from './index.ts';

const SHARED = process.env.QGPU_FIXTURES ?? new URL('../../../../shared/', import.meta.url).pathname;

async function loadTokenizer(path: string): Promise<SpmTokenizer> {
  const file = await readGguf(bytesSource(new Uint8Array(readFileSync(path)), path));
  return new SpmTokenizer(spmVocabFromGguf(file.metadata));
}

const storiesTexts = (JSON.parse(readFileSync(`${SHARED}/reference/stories260K-f32.json`, 'utf8')) as {
  tokenize: { text: string }[];
}).tokenize.map((c) => c.text);

const llamaTexts = readFileSync(`${SHARED}/reference/ggml-vocab-llama-spm.gguf.inp`, 'utf8')
  .split('\n__ggml_vocab_test__\n')
  .filter((t) => t !== '');

const multibyte = [
  '🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ 🦙🦙',
  'ភ្នំពេញ 你好世界 Привет мир café 𝄞',
  '\u{1F600}\u{1F600}',
];

/** Pushes ids one by one, checking no U+FFFD shows up mid-stream, and returns the concatenation. */
function streamDecode(tok: SpmTokenizer, ids: readonly number[]): string {
  const decoder = tok.createDecoder();
  let text = '';
  for (const id of ids) {
    const piece = decoder.push(id);
    expect(piece).not.toContain('\ufffd');
    text += piece;
  }
  return text + decoder.flush();
}

describe.each([
  ['stories260K', `${SHARED}/models/stories260K/stories260K-f32.gguf`],
  ['llama-spm', `${SHARED}/models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf`],
])('decode with %s', (_name, path) => {
  let tok: SpmTokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer(path);
  });

  const texts = [...storiesTexts, ...llamaTexts, ...multibyte, '', ' ', '  leading', 'trailing  ', '\uFEFFbom'];

  it('round-trips decode(encode(x)) === x, with and without BOS', () => {
    for (const text of texts) {
      expect(tok.decode(tok.encode(text))).toBe(text);
      expect(tok.decode(tok.encode(text, { addBos: false }))).toBe(text);
    }
  });

  it('streams to the same text as decode, never emitting U+FFFD for valid text', () => {
    for (const text of texts) {
      const ids = tok.encode(text);
      expect(streamDecode(tok, ids)).toBe(tok.decode(ids));
    }
  });

  it('holds back a split multi-byte character until its last byte token', () => {
    const ids = tok.encode('🦙', { addBos: false });
    const decoder = tok.createDecoder();
    const outputs = ids.map((id) => decoder.push(id));
    expect(outputs.join('') + decoder.flush()).toBe('🦙');
    expect(outputs.at(-1)).toContain('🦙');
    expect(outputs.slice(0, -1).join('')).toBe(''); // '▁' (stripped) then the first three bytes: nothing yet
  });

  it('turns a truncated or invalid sequence into U+FFFD', () => {
    const ids = tok.encode('🦙', { addBos: false }).slice(0, -1);
    expect(tok.decode(ids)).toBe('\ufffd');
    expect(streamDecode(tok, ids.slice(0, 1))).toBe(''); // only the stripped '▁'
    const decoder = tok.createDecoder();
    expect(ids.map((id) => decoder.push(id)).join('')).toBe('');
    expect(decoder.flush()).toBe('\ufffd');
  });

  it('strips the prefix space only at the start or after BOS', () => {
    const hello = tok.encode('Hello', { addBos: false });
    expect(tok.decode(hello)).toBe('Hello');
    expect(tok.decode([...hello, ...hello])).toBe('Hello Hello');
    expect(tok.decode([tok.bosId, ...hello, tok.bosId, ...hello])).toBe('HelloHello');
    expect(tok.decode([tok.eosId, ...hello])).toBe(' Hello');
  });

  it('decodes concatenated encodings to the concatenated texts', () => {
    const ids = texts.flatMap((t) => tok.encode(t));
    expect(tok.decode(ids)).toBe(texts.join(''));
    expect(streamDecode(tok, ids)).toBe(texts.join(''));
  });
});

describe('throughput', () => {
  it('encodes ~100 KB of text quickly', async () => {
    const tok = await loadTokenizer(`${SHARED}/models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf`);
    const text = [...storiesTexts, ...llamaTexts].join('\n').repeat(40);
    const t0 = performance.now();
    const ids = tok.encode(text);
    const ms = performance.now() - t0;
    expect(tok.decode(ids)).toBe(text);
    expect(ms).toBeLessThan(5000);
  });
});
