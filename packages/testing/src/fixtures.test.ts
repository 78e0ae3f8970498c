import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadReference, readSharedBytes, SHARED_DIR, sharedPath } from './fixtures.ts';

describe('shared fixtures', () => {
  it('resolves SHARED_DIR to the folder holding models/ and reference/', () => {
    expect(existsSync(sharedPath('models/stories260K/gguf_manifest.json')), SHARED_DIR).toBe(true);
    expect(Array.from(readSharedBytes('models/stories260K/stories260K-f32.gguf').subarray(0, 4))).toEqual([0x47, 0x47, 0x55, 0x46]);
  });

  it('loads every llama.cpp reference file with its greedy run, logits and tokenizer cases', () => {
    for (const name of ['stories260K-f32', 'stories260K-f16', 'stories260K-q8_0', 'stories260K-q4_0'] as const) {
      const ref = loadReference(name);
      expect(ref.greedy.prompt_token_ids.slice(0, 1)).toEqual([1]); // BOS
      expect(ref.greedy.generated_ids).toHaveLength(64);
      expect(ref.greedy.full_logits_first_steps['0']).toHaveLength(512);
      expect(ref.tokenize.length).toBeGreaterThan(0);
    }
  });
});
