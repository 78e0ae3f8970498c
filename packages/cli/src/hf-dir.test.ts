// A Hugging Face model directory as a CLI model path: files found by their usual names, shards from the index,
// opened for range reads; the engine's HF path then sees the same model as the GGUF it was converted from.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesSource, readGguf } from '@qgpu/formats';
import { llamaConfigFromGguf } from '@qgpu/runtime';
import { readSharedBytes } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { hfCheckpointFromGguf } from '../../runtime/src/llama/hf-convert.ts';
import { openHfModel } from '../../runtime/src/llama/hf-source.ts';
import { nodeModelSource } from './hf-dir.ts';

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
    expect(source).toMatchObject({ config, name: expect.stringMatching(/^qgpu-hf-/) });
    const file = await openHfModel(source as Parameters<typeof openHfModel>[0]);
    expect({ ...llamaConfigFromGguf(file), name: '' }).toEqual({ ...llamaConfigFromGguf(gguf), name: '' });
    expect(file.metadata.get('tokenizer.ggml.model')).toBe('llama');
    // A plain file stays a GGUF byte source.
    expect('read' in (await nodeModelSource(join(dir, 'tokenizer.gguf')))).toBe(true);
    rmSync(dir, { recursive: true });
  });
});
