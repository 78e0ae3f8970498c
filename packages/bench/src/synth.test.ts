// The synthetic model writer: exact tensor sizes and types (incl. the K-quant fallback for narrow rows), a vocabulary
// the SentencePiece loader accepts, metadata the runtime's config reader accepts, and byte-for-byte determinism.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesSource, readGguf } from '@qgpu/formats';
import { afterAll, describe, expect, it } from 'vitest';
import { llamaConfigFromGguf } from '@qgpu/runtime';
import { spmVocabFromGguf } from '@qgpu/tokenizer';
import { matrixType, synthModel, synthVocab, SYNTH_SHAPES, type SynthShape } from './synth.ts';

const dir = mkdtempSync(join(tmpdir(), 'qgpu-synth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Narrow (320 = 1.25 × 256) and wide (512) rows, GQA 4:2, so the Q4_K fallback and the kv width both show.
const tiny: SynthShape = { model: 'tiny', vocab: 300, dim: 320, hidden: 512, layers: 2, heads: 4, kvHeads: 2, contextLength: 64, ropeTheta: 10000, normEps: 1e-5 };

describe('synthetic models', () => {
  it('the vocabulary has exactly the asked size, unique pieces, SPM specials and byte tokens', () => {
    const v = synthVocab(1000);
    expect(v.tokens).toHaveLength(1000);
    expect(new Set(v.tokens).size).toBe(1000);
    expect(v.tokens.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    expect(v.tokens[3 + 0x41]).toBe('<0x41>');
    expect(v.types.slice(3, 259).every((t) => t === 6)).toBe(true);
    expect(v.scores).toHaveLength(1000);
  });

  it('K-quants fall back to Q5_0 on rows that are not a multiple of 256, as llama-quantize does', () => {
    expect(matrixType('q4_k', 576)).toBe('Q5_0');
    expect(matrixType('q4_k', 2048)).toBe('Q4_K');
    expect(matrixType('q8_0', 576)).toBe('Q8_0');
  });

  it('the real shapes are the released models\' (config.json)', () => {
    expect(SYNTH_SHAPES['llama-3.2-1b']).toMatchObject({ vocab: 128256, dim: 2048, hidden: 8192, layers: 16, heads: 32, kvHeads: 8 });
    expect(SYNTH_SHAPES['smollm2-135m']).toMatchObject({ vocab: 49152, dim: 576, hidden: 1536, layers: 30, heads: 9, kvHeads: 3 });
    expect(SYNTH_SHAPES['qwen2.5-0.5b']).toMatchObject({ vocab: 151936, dim: 896, hidden: 4864, layers: 24, heads: 14, kvHeads: 2 });
  });

  it.each(['q4_0', 'q8_0', 'q4_k'] as const)('%s: a tiny shape reads back with the planned tensors, config and vocabulary; same bytes twice', async (type) => {
    const a = synthModel('smollm2-135m', type, { path: join(dir, `a-${type}.gguf`), shape: tiny });
    const b = synthModel('smollm2-135m', type, { path: join(dir, `b-${type}.gguf`), shape: tiny });
    expect(a.written && b.written).toBe(true);
    const bytes = new Uint8Array(readFileSync(a.path));
    expect(Buffer.compare(bytes, readFileSync(b.path))).toBe(0);
    const file = await readGguf(bytesSource(bytes, 'tiny'));
    const config = llamaConfigFromGguf(file);
    expect(config).toMatchObject({ dim: 320, hiddenDim: 512, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 80, kvDim: 160, vocabSize: 300 });
    expect(file.tensors).toHaveLength(1 + 9 * tiny.layers + 1);
    expect(file.tensors.some((t) => t.name === 'output.weight')).toBe(false); // tied
    const byName = new Map(file.tensors.map((t) => [t.name, t]));
    expect(byName.get('blk.1.attn_k.weight')!.ne).toEqual([320, 160]);
    expect(byName.get('blk.0.ffn_norm.weight')!.typeName).toBe('F32');
    expect(byName.get('blk.0.ffn_up.weight')!.typeName).toBe(matrixType(type, 320));
    expect(byName.get('blk.0.ffn_down.weight')!.typeName).toBe(matrixType(type, 512));
    expect(spmVocabFromGguf(file.metadata).tokens).toHaveLength(300);
    // A second call finds the file and leaves it alone.
    expect(synthModel('smollm2-135m', type, { path: a.path, shape: tiny }).written).toBe(false);
  });
});
