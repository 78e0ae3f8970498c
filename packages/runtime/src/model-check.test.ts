// What the engine checks before it touches the GPU (model-check.ts): named failures for the metadata, tokenizer
// and tensor problems a broken or hostile file can have, and a fuzz run of mutated fixtures through the whole
// pre-GPU path (parse, config, tokenizer, tensor table, memory estimate).
import { bytesSource, FormatError, readGguf, type GgufFile, type GgufValue } from '@qgpu/formats';
import { fuzzFile, ggufHeaderMap } from '@qgpu/formats/fuzz';
import { readSharedBytes } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { QgpuError } from './errors.ts';
import { checkGpuFit, checkModelFile, estimateGpuMemory } from './model-check.ts';

const FIXTURE = 'models/stories260K/stories260K-q8_0.gguf';
const bytes = readSharedBytes(FIXTURE);
const original = await readGguf(bytesSource(bytes, 'model.gguf'));

/** The fixture with some metadata replaced (undefined deletes the key). */
function withMetadata(changes: Record<string, GgufValue | undefined>, file: GgufFile = original): GgufFile {
  const metadata = new Map(file.metadata);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) metadata.delete(key);
    else metadata.set(key, value);
  }
  return { ...file, metadata };
}

function failure(file: GgufFile): FormatError {
  try {
    checkModelFile(file);
  } catch (error) {
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).message).not.toMatch(/\n/);
    return error as FormatError;
  }
  throw new Error('checkModelFile accepted the file');
}

describe('checkModelFile', () => {
  it('accepts the fixture: config, tokenizer and every tensor shape', () => {
    const { config, tokenizer, tensors } = checkModelFile(original);
    expect(config).toMatchObject({ dim: 64, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512 });
    expect(tokenizer.vocabSize).toBe(512);
    // token_embd, output_norm, output and 9 per layer.
    expect(tensors.size).toBe(3 + 9 * 5);
  });

  it.each<[string, Record<string, GgufValue | undefined>, string, RegExp]>([
    ['unknown architecture', { 'general.architecture': 'mamba' }, 'unsupported', /unsupported architecture 'mamba' \(supported: llama\)/],
    ['missing tokenizer', { 'tokenizer.ggml.model': undefined }, 'missing', /has no tokenizer \(metadata 'tokenizer.ggml.model' is missing\)/],
    ['unknown tokenizer model', { 'tokenizer.ggml.model': 'wordpiece' }, 'unsupported', /unsupported tokenizer model 'wordpiece'/],
    ['tokenizer arrays of different lengths', { 'tokenizer.ggml.scores': [1, 2, 3] }, 'bad_tokenizer', /invalid tokenizer: .*scores has 3 entries, expected 512/],
    ['missing embedding length', { 'llama.embedding_length': undefined }, 'missing', /missing metadata 'llama.embedding_length'/],
    ['a string where a number belongs', { 'llama.block_count': 'five' }, 'bad_metadata', /'llama.block_count' is not a number/],
    ['zero heads', { 'llama.attention.head_count': 0 }, 'bad_metadata', /llama.attention.head_count must be a positive integer, got 0/],
    ['heads not dividing the width', { 'llama.attention.head_count': 7 }, 'bad_metadata', /embedding_length 64 is not divisible by llama.attention.head_count 7/],
    ['kv heads not dividing heads', { 'llama.attention.head_count_kv': 3 }, 'bad_metadata', /head_count 8 is not a multiple of head_count_kv 3/],
    ['fractional layer count', { 'llama.block_count': 2.5 }, 'bad_metadata', /block_count must be a positive integer, got 2.5/],
    ['absurd context length', { 'llama.context_length': 2 ** 40 }, 'bad_metadata', /context_length 1099511627776 is larger than qgpu's limit/],
    ['NaN norm epsilon', { 'llama.attention.layer_norm_rms_epsilon': NaN }, 'bad_metadata', /layer_norm_rms_epsilon must be in \(0, 1\), got NaN/],
    ['more layers than tensors', { 'llama.block_count': 1_000_000 }, 'missing', /block_count 1000000 needs 9000003 tensors but the file has 48/],
    ['one layer more than the file has', { 'llama.block_count': 6 }, 'missing', /block_count 6 needs 57 tensors but the file has 48/],
    ['hidden size disagreeing with the tensors', { 'llama.feed_forward_length': 256 }, 'bad_tensor', /tensor 'blk.0.ffn_gate.weight' has shape \[64, 172\] but the metadata implies \[64, 256\]/],
  ])('%s', (_, changes, code, message) => {
    const error = failure(withMetadata(changes));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(error.message.startsWith('model.gguf: ')).toBe(true);
  });

  it('a BOS id outside the vocabulary is refused at load when the tokenizer adds BOS (found by the fuzzer)', () => {
    const error = failure(withMetadata({ 'tokenizer.ggml.bos_token_id': 70000 }));
    expect(error.code).toBe('bad_tokenizer');
    expect(error.message).toMatch(/adds BOS \(tokenizer.ggml.add_bos_token\) but tokenizer.ggml.bos_token_id 70000 is not a token/);
    expect(() => checkModelFile(withMetadata({ 'tokenizer.ggml.bos_token_id': 70000, 'tokenizer.ggml.add_bos_token': false }))).not.toThrow();
  });

  it('a tokenizer with more tokens than embedding rows is refused', () => {
    const tokens = [...(original.metadata.get('tokenizer.ggml.tokens') as string[]), 'extra'];
    const error = failure(withMetadata({
      'tokenizer.ggml.tokens': tokens,
      'tokenizer.ggml.scores': [...(original.metadata.get('tokenizer.ggml.scores') as number[]), 0],
      'tokenizer.ggml.token_type': [...(original.metadata.get('tokenizer.ggml.token_type') as number[]), 1],
    }));
    expect(error.code).toBe('bad_tokenizer');
    expect(error.message).toMatch(/the tokenizer has 513 tokens but token_embd.weight only 512 rows/);
  });

  it('a missing tensor is named', () => {
    const tensors = original.tensors.map((t) => (t.name === 'blk.3.ffn_up.weight' ? { ...t, name: 'blk.3.ffn_up_renamed.weight' } : t));
    const error = failure({ ...original, tensors });
    expect(error.code).toBe('missing');
    expect(error.message).toMatch(/missing tensor 'blk.3.ffn_up.weight'/);
  });

  it('an unsupported tensor type is named', () => {
    const tensors = original.tensors.map((t) => (t.name === 'blk.2.attn_k.weight' ? { ...t, typeId: 16, typeName: 'IQ2_XXS' } : t));
    const error = failure({ ...original, tensors });
    expect(error.message).toMatch(/tensor 'blk.2.attn_k.weight' has type IQ2_XXS, which qgpu cannot load/);
  });
});

describe('GPU memory estimate and limits', () => {
  const checked = checkModelFile(original);

  it('counts weights at their file size (norms as f32) and the KV cache at 4 bytes per element', () => {
    const estimate = estimateGpuMemory(checked, 512);
    const fileWeights = [...checked.tensors.values()].reduce((s, { info, ne }) => s + (ne.length === 1 ? info.elementCount * 4 : info.byteLength), 0);
    expect(estimate.weightBytes).toBe(fileWeights);
    // 5 layers × (K + V) × 512 positions × kv_dim 32 × 4 bytes, by hand.
    expect(estimate.kvCacheBytes).toBe(5 * 2 * 512 * 32 * 4);
    expect(estimate.totalBytes).toBe(estimate.weightBytes + estimate.kvCacheBytes + estimate.workspaceBytes);
  });

  it('counts an f16 KV cache at 2 bytes and an int8 one at 1 byte plus an f32 scale per position and KV head', () => {
    // stories260K: 5 layers, kv_dim 32, 4 KV heads; by hand.
    expect(estimateGpuMemory(checked, 512, 'f16').kvCacheBytes).toBe(5 * 2 * 512 * 32 * 2);
    expect(estimateGpuMemory(checked, 512, 'int8').kvCacheBytes).toBe(5 * 2 * 512 * (32 + 4 * 4));
  });

  it('refuses a buffer over the binding limit and a total over the budget, naming both numbers', () => {
    const estimate = estimateGpuMemory(checked, 512);
    expect(() => checkGpuFit(estimate, { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 27 })).not.toThrow();
    const small = () => checkGpuFit(estimate, { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 32 * 1024 });
    expect(small).toThrow(QgpuError);
    expect(small).toThrow(/KV cache \(512 tokens\) needs 0.1 MiB but the device's maxStorageBufferBindingSize is 0.0 MiB/);
    const budget = () => checkGpuFit(estimate, { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 27 }, 100_000);
    expect(budget).toThrow(/needs about .* MiB of GPU memory .* but the budget is 0.1 MiB/);
  });
});

describe('fuzzing the pre-GPU path (parse, config, tokenizer, tensor table, memory estimate)', () => {
  const SCALE = Number(process.env.QGPU_FUZZ_SCALE ?? 1);
  const VARIANTS = Math.round(12_000 * SCALE);
  const FUZZ_TIMEOUT_MS = 600_000 * Math.max(1, SCALE);
  it(`${VARIANTS} variants of ${FIXTURE.split('/').pop()} load as far as the GPU or fail with a one-line FormatError`, async () => {
    const report = await fuzzFile({
      name: 'stories260K-q8_0.gguf', bytes, map: ggufHeaderMap(bytes), seed: Number(process.env.QGPU_FUZZ_SEED ?? 0x51ab), variants: VARIANTS,
      check: async (source) => {
        const checked = checkModelFile(await readGguf(source));
        // Tokenizing exercises the vocabulary the mutations may have damaged.
        checked.tokenizer.encode('Once upon a time, there was a little girl.');
        estimateGpuMemory(checked, checked.config.contextLength);
      },
    });
    const codes = Object.entries(report.rejectedByCode).map(([c, n]) => `${c} ${n}`).join(', ');
    console.log(`pre-GPU fuzz: ${report.variants} variants in ${(report.elapsedMs / 1000).toFixed(1)} s (slowest ${report.slowestMs.toFixed(1)} ms): ${report.accepted} accepted; rejected: ${codes}`);
    expect(report.failures.slice(0, 10)).toEqual([]);
    expect(report.accepted).toBeGreaterThan(0);
    // Some variants must get past the parser into the model checks, or this test fuzzes only the parser.
    const modelLevel = ['bad_metadata', 'bad_tokenizer', 'missing', 'unsupported'].reduce((sum, c) => sum + (report.rejectedByCode[c] ?? 0), 0);
    expect(modelLevel).toBeGreaterThan(0);
  }, FUZZ_TIMEOUT_MS);
});
