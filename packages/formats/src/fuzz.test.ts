// Fuzzing the file readers: mutated and truncated variants of the fixture files must parse or fail with a one-line
// FormatError, never throw anything else, hang or allocate without bound. `QGPU_FUZZ_SCALE` multiplies the variant
// counts (`pnpm fuzz` runs 10x); docs/reliability.md records counts and times.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource, FormatError } from './byte-source.ts';
import { fuzzFile, ggufHeaderMap, Mutator, safetensorsHeaderMap, spliceSource, type FuzzReport } from './fuzz.ts';
import { readGguf, readTensorBytes } from './gguf.ts';
import { readSafetensors, readSafetensorsBytes, writeSafetensors } from './safetensors.ts';

const SHARED = process.env.QGPU_FIXTURES ?? new URL('../../../../shared/', import.meta.url).pathname;
const SCALE = Number(process.env.QGPU_FUZZ_SCALE ?? 1);
const SEED = Number(process.env.QGPU_FUZZ_SEED ?? 0x9e1f);
/** Ten minutes per fuzz test at the CI scale, more for `pnpm fuzz`. */
const FUZZ_TIMEOUT_MS = 600_000 * Math.max(1, SCALE);

const fixture = (name: string) => new Uint8Array(readFileSync(`${SHARED}/models/stories260K/${name}`));

function summary(name: string, r: FuzzReport): string {
  const codes = Object.entries(r.rejectedByCode).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
  return `${name}: ${r.variants} variants in ${(r.elapsedMs / 1000).toFixed(1)} s (slowest ${r.slowestMs.toFixed(1)} ms): ` +
    `${r.accepted} parsed; rejected: ${codes}`;
}

/** A parse that succeeds also reads every tensor's bytes, so the validated ranges are exercised too. */
async function parseGguf(source: Parameters<typeof readGguf>[0]): Promise<void> {
  const file = await readGguf(source);
  for (const t of file.tensors) {
    const bytes = await readTensorBytes(file, t);
    if (bytes.byteLength !== t.byteLength) throw new Error(`short tensor read for ${t.name}`);
  }
}

const GGUF_FIXTURES = ['stories260K-f32.gguf', 'stories260K-f16.gguf', 'stories260K-q4_0.gguf', 'stories260K-q4_k_m.gguf', 'stories260K-q8_0.gguf'];
/** Per fixture; five fixtures. Measured on the 2-core dev machine: see docs/reliability.md. */
const GGUF_VARIANTS = Math.round(16_000 * SCALE);

describe('GGUF fuzzing (seeded mutations of the stories260K fixtures)', () => {
  it.each(GGUF_FIXTURES)('%s: every variant parses or fails with a one-line FormatError', async (name) => {
    const bytes = fixture(name);
    const report = await fuzzFile({ name, bytes, map: ggufHeaderMap(bytes), seed: SEED, variants: GGUF_VARIANTS, check: parseGguf });
    console.log(summary(name, report));
    expect(report.failures.slice(0, 10)).toEqual([]);
    expect(report.variants).toBe(GGUF_VARIANTS);
    // The mutations must reach past the magic: most variants get to later checks, and some still parse.
    expect(report.accepted).toBeGreaterThan(0);
    expect(Object.keys(report.rejectedByCode).length).toBeGreaterThanOrEqual(6);
  }, FUZZ_TIMEOUT_MS);

  it('every truncation of the header region fails with a FormatError (truncated, bad_magic, limit or out_of_bounds)', async () => {
    const name = 'stories260K-q4_0.gguf';
    const bytes = fixture(name);
    const { headerEnd } = ggufHeaderMap(bytes);
    const codes = new Set<string>();
    for (let length = 0; length <= headerEnd + 64; length++) {
      const error = await readGguf(spliceSource(bytes, new Uint8Array(0), name, length)).then(() => undefined, (e: unknown) => e);
      expect(error, `length ${length}`).toBeInstanceOf(FormatError);
      codes.add((error as FormatError).code);
    }
    expect([...codes].sort()).toEqual(['bad_magic', 'limit', 'out_of_bounds', 'truncated']);
  }, 120_000);

  it('variants are reproducible from (fixture, seed, index)', () => {
    const bytes = fixture('stories260K-f16.gguf');
    const a = new Mutator(bytes, ggufHeaderMap(bytes), 7);
    const b = new Mutator(bytes, ggufHeaderMap(bytes), 7);
    for (const i of [0, 1, 500, 9999]) {
      const [x, y] = [a.mutate(i), b.mutate(i)];
      expect(x.description).toBe(y.description);
      expect(x.byteLength).toBe(y.byteLength);
      expect(Buffer.from(x.front).equals(Buffer.from(y.front))).toBe(true);
    }
  });
});

/** A small safetensors file shaped like a model checkpoint (the shared fixtures hold no safetensors). */
function safetensorsFixture(): Uint8Array {
  const floats = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k));
  return writeSafetensors([
    { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [32, 16], data: floats(512, 0.1) },
    { name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'F16', shape: [16, 16], data: new Uint16Array(256).fill(0x3c00) },
    { name: 'model.layers.0.input_layernorm.weight', dtype: 'BF16', shape: [16], data: new Uint16Array(16).fill(0x3f80) },
    { name: 'model.layers.0.mlp.qweight', dtype: 'I32', shape: [4, 8], data: new Int32Array(32).fill(7) },
    { name: 'model.layers.0.mlp.scales', dtype: 'U8', shape: [3, 5], data: new Uint8Array(15).fill(1) },
    { name: 'model.norm.weight', dtype: 'F32', shape: [16], data: floats(16, 0.3) },
  ], { format: 'pt', note: 'fuzz fixture' });
}

describe('safetensors fuzzing (seeded mutations of a writer-made checkpoint)', () => {
  const SAFETENSORS_VARIANTS = Math.round(20_000 * SCALE);
  it('every variant parses or fails with a one-line FormatError', async () => {
    const bytes = safetensorsFixture();
    expect((await readSafetensors(bytesSource(bytes, 'fixture.safetensors'))).tensors).toHaveLength(6);
    const report = await fuzzFile({
      name: 'fixture.safetensors', bytes, map: safetensorsHeaderMap(bytes), seed: SEED, variants: SAFETENSORS_VARIANTS,
      check: async (source) => {
        const file = await readSafetensors(source);
        for (const t of file.tensors) await readSafetensorsBytes(file, t);
      },
    });
    console.log(summary('fixture.safetensors', report));
    expect(report.failures.slice(0, 10)).toEqual([]);
    expect(report.accepted).toBeGreaterThan(0);
  }, FUZZ_TIMEOUT_MS);
});
