// Access to the read-only fixtures in shared/ (models, llama.cpp reference outputs). They are never copied into
// the repository; tests read them in place, from $QGPU_FIXTURES or from ../shared next to the repository root.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Absolute path of the shared fixtures folder: `$QGPU_FIXTURES` (resolved against the working directory) when
 * set, else `../shared` relative to the repository root (this file is at packages/testing/src/).
 */
export const SHARED_DIR: string = process.env.QGPU_FIXTURES
  ? resolve(process.env.QGPU_FIXTURES)
  : fileURLToPath(new URL('../../../../shared/', import.meta.url));

/** Absolute path of a file under {@link SHARED_DIR}, e.g. `sharedPath('models/stories260K/stories260K-f32.gguf')`. */
export function sharedPath(relativePath: string): string {
  return resolve(SHARED_DIR, relativePath);
}

/** Reads a shared file whole (the stories260K models are at most a few MiB). */
export function readSharedBytes(relativePath: string): Uint8Array {
  return new Uint8Array(readFileSync(sharedPath(relativePath)));
}

/** The llama.cpp reference files available in shared/reference/. */
export type ReferenceName = 'stories260K-f32' | 'stories260K-f16' | 'stories260K-q8_0' | 'stories260K-q4_0';

/** One candidate of llama.cpp's top-5 at a greedy step. */
export interface ReferenceTopEntry {
  readonly id: number;
  readonly logit: number;
  readonly logprob: number;
}

/** One tokenizer case: text and llama.cpp's ids and pieces, BOS included. */
export interface ReferenceTokenization {
  readonly text: string;
  readonly ids_with_bos: readonly number[];
  readonly pieces_with_bos: readonly string[];
}

/** What llama.cpp (CPU, f32 KV cache) computed on one GGUF file; field names as in the JSON. */
export interface ReferenceFile {
  readonly what: string;
  /** Path of the model relative to {@link SHARED_DIR}. */
  readonly model_file: string;
  readonly model_sha256: string;
  readonly peer: string;
  readonly peer_commit: string;
  readonly greedy: {
    readonly prompt: string;
    readonly add_bos: boolean;
    readonly prompt_token_ids: readonly number[];
    readonly n_predict: number;
    readonly generated_ids: readonly number[];
    readonly text: string;
    readonly top5_per_step: readonly { readonly step: number; readonly top: readonly ReferenceTopEntry[] }[];
    /**
     * Full-vocabulary logits keyed by step ("0" = after the prompt). The f32 file has steps "0"–"3"; the f16 and
     * quantized files only "0" (despite the shared README saying the first 4 steps), so iterate the keys present.
     */
    readonly full_logits_first_steps: Readonly<Record<string, readonly number[]>>;
  };
  readonly tokenize: readonly ReferenceTokenization[];
}

/**
 * Reads `shared/reference/<name>.json` and checks the fields tests rely on, so a changed fixture fails here with
 * a clear message rather than as an undefined deep inside a comparison.
 */
export function loadReference(name: ReferenceName): ReferenceFile {
  const path = sharedPath(`reference/${name}.json`);
  const data = JSON.parse(readFileSync(path, 'utf8')) as ReferenceFile;
  const g = data.greedy;
  if (!Array.isArray(g?.prompt_token_ids) || !Array.isArray(g.generated_ids) || g.generated_ids.length !== g.n_predict ||
      typeof g.full_logits_first_steps !== 'object' || !Array.isArray(data.tokenize)) {
    throw new Error(`${path}: not a llama.cpp reference file in the expected layout`);
  }
  return data;
}
