// Fuzzing the Hugging Face path before the GPU: a stories260K checkpoint (config.json + model.safetensors, converted
// from the shared F32 GGUF) with mutated safetensors bytes or mutated config.json values goes through openHfLlama and
// the engine's model checks. Every variant must pass or fail with a one-line FormatError (or RangeError/QgpuError
// for option-like config values), never another exception or a hang.
import { bytesSource, FormatError, readGguf, type ByteSource } from '@qgpu/formats';
import { fuzzFile, safetensorsHeaderMap } from '@qgpu/formats/fuzz';
import { mulberry32 } from '@qgpu/formats';
import { readSharedBytes } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { hfCheckpointFromGguf } from './llama/hf-convert.ts';
import { openHfLlama } from './llama/hf.ts';
import { checkModelFile } from './model-check.ts';

const SCALE = Number(process.env.QGPU_FUZZ_SCALE ?? 1);
const SEED = Number(process.env.QGPU_FUZZ_SEED ?? 0x4f17);
const FUZZ_TIMEOUT_MS = 600_000 * Math.max(1, SCALE);

const gguf = await readGguf(bytesSource(readSharedBytes('models/stories260K/stories260K-f32.gguf'), 'stories260K-f32.gguf'));
const checkpoint = await hfCheckpointFromGguf(gguf, 'F32');
/** The SentencePiece tokenizer travels in the GGUF header; openHfModel would add it the same way. */
const tokenizerKeys = [...gguf.metadata].filter(([key]) => key.startsWith('tokenizer.'));

async function openAndCheck(safetensors: ByteSource, config: unknown): Promise<void> {
  const file = await openHfLlama({ safetensors, config, name: 'hf-fuzz' });
  checkModelFile({ ...file, metadata: new Map([...file.metadata, ...tokenizerKeys]) });
}

describe('fuzzing the Hugging Face checkpoint path (openHfLlama, model checks)', () => {
  it('the unmutated checkpoint passes', async () => {
    await openAndCheck(bytesSource(checkpoint.safetensors, 'model.safetensors'), checkpoint.config);
  });

  const SAFETENSORS_VARIANTS = Math.round(10_000 * SCALE);
  it(`${SAFETENSORS_VARIANTS} mutated model.safetensors files pass or fail with a one-line FormatError`, async () => {
    const bytes = checkpoint.safetensors;
    const report = await fuzzFile({
      name: 'model.safetensors', bytes, map: safetensorsHeaderMap(bytes), seed: SEED, variants: SAFETENSORS_VARIANTS,
      check: (source) => openAndCheck(source, checkpoint.config),
    });
    const codes = Object.entries(report.rejectedByCode).map(([c, n]) => `${c} ${n}`).join(', ');
    console.log(`HF safetensors fuzz: ${report.variants} variants in ${(report.elapsedMs / 1000).toFixed(1)} s: ${report.accepted} accepted; rejected: ${codes}`);
    expect(report.failures.slice(0, 10)).toEqual([]);
    expect(report.accepted).toBeGreaterThan(0);
  }, FUZZ_TIMEOUT_MS);

  const CONFIG_VARIANTS = Math.round(10_000 * SCALE);
  it(`${CONFIG_VARIANTS} mutated config.json values pass or fail with a clear typed error`, async () => {
    const extremes: unknown[] = [0, -1, 1, 2, 3, 7, 0.5, 1e308, -1e308, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 1e-300, null, true, '', 'x', '64', [], [1], {}, { type: 'llama3' }];
    const keys = Object.keys(checkpoint.config);
    const safetensors = bytesSource(checkpoint.safetensors, 'model.safetensors');
    const failures: string[] = [];
    const outcomes: Record<string, number> = {};
    for (let index = 0; index < CONFIG_VARIANTS; index++) {
      const random = mulberry32((SEED ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
      const config: Record<string, unknown> = structuredClone(checkpoint.config);
      const changes: string[] = [];
      for (let k = 0; k < 1 + Math.floor(random() * 3); k++) {
        const key = random() < 0.9 ? keys[Math.floor(random() * keys.length)]! : 'rope_scaling';
        const value = random() < 0.2 ? undefined : extremes[Math.floor(random() * extremes.length)];
        if (value === undefined) delete config[key];
        else config[key] = value;
        changes.push(`${key}=${JSON.stringify(value)}`);
      }
      try {
        await openAndCheck(safetensors, config);
        outcomes.accepted = (outcomes.accepted ?? 0) + 1;
      } catch (error) {
        const typed = error instanceof FormatError || (error instanceof Error && ['RangeError', 'QgpuError'].includes(error.name));
        if (typed && !/[\r\n]/.test(error.message)) {
          const code = error instanceof FormatError ? error.code : error.name;
          outcomes[code] = (outcomes[code] ?? 0) + 1;
        } else {
          failures.push(`variant ${index} (${changes.join(', ')}): ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
        }
      }
    }
    console.log(`HF config fuzz: ${CONFIG_VARIANTS} variants: ${Object.entries(outcomes).map(([c, n]) => `${c} ${n}`).join(', ')}`);
    expect(failures.slice(0, 10)).toEqual([]);
    expect(outcomes.accepted ?? 0).toBeGreaterThan(0);
  }, FUZZ_TIMEOUT_MS);
});
