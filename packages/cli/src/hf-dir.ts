// A model path for the CLI: a GGUF file, or a Hugging Face model directory (config.json, tokenizer.json or a
// tokenizer GGUF, model.safetensors or the shards listed in model.safetensors.index.json, tokenizer_config.json).
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FormatError, readGguf, type ByteSource } from '@qgpu/formats';
import { tokenizerFromGguf, type Tokenizer } from '@qgpu/tokenizer';
import { isHfModelSource, openHfModel, type LocalEngine } from '@qgpu/runtime';
import { nodeFileSource } from './node-file.ts';

const exists = (path: string) => stat(path).then((s) => s.isFile(), () => false);

/** Anything the in-process engine loads. */
type EngineSource = Parameters<LocalEngine['load']>[0];

/** Reads a model path: a directory becomes an HF model source (files opened for range reads), a file a GGUF source. */
export async function nodeModelSource(path: string): Promise<EngineSource> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isDirectory()) return nodeFileSource(path);
  const file = (name: string) => join(path, name);
  let shards = ['model.safetensors'];
  if (await exists(file('model.safetensors.index.json'))) {
    const index = JSON.parse(await readFile(file('model.safetensors.index.json'), 'utf8')) as { weight_map?: Record<string, string> };
    shards = [...new Set(Object.values(index.weight_map ?? {}))];
  }
  const tokenizer = (await exists(file('tokenizer.json'))) ? 'tokenizer.json' : (await exists(file('tokenizer.gguf'))) ? 'tokenizer.gguf' : undefined;
  if (!tokenizer) throw new FormatError(`${path}: no tokenizer.json (or tokenizer.gguf) in the model directory`);
  return {
    name: basename(path),
    config: JSON.parse(await readFile(file('config.json'), 'utf8').catch(() => {
      throw new FormatError(`${path}: no config.json in the model directory`);
    })) as Record<string, unknown>,
    safetensors: await Promise.all(shards.map((s) => nodeFileSource(file(s)))),
    tokenizer: await nodeFileSource(file(tokenizer)),
    ...((await exists(file('tokenizer_config.json'))) ? { tokenizerConfig: JSON.parse(await readFile(file('tokenizer_config.json'), 'utf8')) as Record<string, unknown> } : {}),
  };
}

/** The tokenizer of a model path (GGUF file or HF directory), chosen from the model as the engine does. */
export async function nodeModelTokenizer(path: string): Promise<Tokenizer> {
  const source = await nodeModelSource(path);
  const file = isHfModelSource(source) ? await openHfModel(source) : await readGguf(source as ByteSource);
  return tokenizerFromGguf(file.metadata);
}
