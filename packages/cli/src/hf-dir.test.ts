// A Hugging Face model directory as a CLI model path: files found by their usual names, shards from the index,
// opened for range reads; the engine's HF path then sees the same model as the GGUF it was converted from.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesSource, readGguf } from '@qgpu/formats';
import { hfCheckpointFromGguf, llamaConfigFromGguf, openHfModel, randomHfLlama } from '@qgpu/runtime';
import { BpeTokenizer, SpmTokenizer, tokenizerFromJson } from '@qgpu/tokenizer';
import { readSharedBytes, sharedPath } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { nodeModelSource, nodeModelTokenizer } from './hf-dir.ts';

describe('nodeModelSource', () => {
  it('opens a model directory as an HF source whose model equals the original GGUF', async () => {
    const ggufBytes = readSharedBytes('models/stories260K/stories260K-f32.gguf');
    const gguf = await readGguf(bytesSource(ggufBytes, 'stories260K-f32.gguf'));
    const { config, safetensors } = await hfCheckpointFromGguf(gguf);
    const dir = mkdtempSync(join(tmpdir(), 'qgpu-hf-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    writeFileSync(join(dir, 'model.safetensors'), safetensors);
    await expect(nodeModelSource(dir)).rejects.toThrow(/no tokenizer.json/);
    writeFileSync(join(dir, 'tokenizer.gguf'), ggufBytes);
    const source = await nodeModelSource(dir);
    expect(source as object).toMatchObject({ config, name: expect.stringMatching(/^qgpu-hf-/) });
    const file = await openHfModel(source as Parameters<typeof openHfModel>[0]);
    expect({ ...llamaConfigFromGguf(file), name: '' }).toEqual({ ...llamaConfigFromGguf(gguf), name: '' });
    expect(file.metadata.get('tokenizer.ggml.model')).toBe('llama');
    // A plain file stays a GGUF byte source.
    const plain = await nodeModelSource(join(dir, 'tokenizer.gguf'));
    expect(typeof plain === 'object' && 'read' in plain).toBe(true);
    rmSync(dir, { recursive: true });
  });

  it('picks the tokenizer from the model: tokenizer.json → byte-level BPE, a GGUF → its own (SentencePiece here)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qgpu-hf-'));
    const { config, safetensors } = randomHfLlama({ hiddenSize: 32, intermediateSize: 64, layers: 1, heads: 2, kvHeads: 1, vocabSize: 49152, contextLength: 16, tied: true }, 1);
    const json = readSharedBytes('models/tokenizers/smollm2-135m/tokenizer.json');
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    writeFileSync(join(dir, 'model.safetensors'), safetensors);
    writeFileSync(join(dir, 'tokenizer.json'), json);
    const tokenizer = await nodeModelTokenizer(dir);
    expect(tokenizer).toBeInstanceOf(BpeTokenizer);
    expect(tokenizer.encode('Hello, world! 123')).toEqual(tokenizerFromJson(JSON.parse(new TextDecoder().decode(json))).encode('Hello, world! 123'));
    expect(await nodeModelTokenizer(sharedPath('models/stories260K/stories260K-f32.gguf'))).toBeInstanceOf(SpmTokenizer);
    rmSync(dir, { recursive: true });
  });
});
