// `qgpu run` on truncated, corrupted and oversized-claim GGUF files: each exits non-zero within seconds with one
// line naming the file and the problem, and prints nothing on stdout. The files are the stories260K fixture with
// single header fields overwritten (positions found by walking the valid file) or cut short.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ggufHeaderMap } from '@qgpu/formats/fuzz';
import { readSharedBytes } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-harness.ts';

const original = readSharedBytes('models/stories260K/stories260K-f32.gguf');
const { fields, headerEnd } = ggufHeaderMap(original);
const dir = mkdtempSync(join(tmpdir(), 'qgpu-hostile-'));

/** The fixture with one u64/u32 field replaced; `which` picks among the fields of that kind. */
function withField(kind: string, value: bigint, which: (offsets: number[]) => number = (o) => o[0]!): Uint8Array {
  const offsets = fields.filter((f) => f.kind === kind).map((f) => f.offset);
  const offset = which(offsets);
  const field = fields.find((f) => f.offset === offset)!;
  const bytes = original.slice();
  const view = new DataView(bytes.buffer);
  if (field.size === 8) view.setBigUint64(offset, value, true);
  else view.setUint32(offset, Number(value), true);
  return bytes;
}

const cases: [string, Uint8Array, RegExp][] = [
  ['truncated inside the header', original.subarray(0, 20), /truncated GGUF: the tensor and metadata counts needs bytes up to 24, the file has 20$/],
  ['truncated inside the vocabulary', original.subarray(0, 5000), /truncated GGUF: .* the file has 5000$/],
  ['truncated inside the tensor data', original.subarray(0, headerEnd + 1000), /tensor '.*' data \[\d+, \d+\) lies outside the file \(\d+ bytes\)$/],
  ['a bad magic', (() => { const b = original.slice(); b[0] = 0x47; b[3] = 0x00; return b; })(), /not a GGUF file \(bad magic\)$/],
  ['an unknown version', withField('version', 99n), /unsupported GGUF version 99 \(qgpu reads v2 and v3\)$/],
  ['a tensor count of 2^62', withField('count', 2n ** 62n), /tensor count 4611686018427387904 is larger than the file can hold \(\d+ bytes after the header\)$/],
  ['a metadata count of 2^64-1', withField('count', 2n ** 64n - 1n, (o) => o[1]!), /metadata count 18446744073709551615 is larger than the file can hold/],
  ['a key length of 1 TiB', withField('length', 2n ** 40n), /metadata key #0 claims 1099511627776 bytes but only \d+ bytes remain in the file$/],
  ['a vocabulary array of 2^50 entries', withField('count', 2n ** 50n, (o) => o[2]!), /length of array 'tokenizer.ggml.tokens' \(STRING\) 1125899906842624 is larger than the file can hold/],
  ['a tensor dim of 2^53', withField('dim', 2n ** 53n), /dimension 0 of 'token_embd.weight' 9007199254740992 is larger than a safe integer$/],
  ['a tensor whose dims overflow', withField('dim', 2n ** 40n, (o) => o[1]!), /tensor 'token_embd.weight' data \[\d+, \d+\) lies outside the file/],
  ['a tensor offset past the end', withField('offset', 2n ** 33n, (o) => o.at(-1)!), /data \[\d+, \d+\) lies outside the file \(1185376 bytes\)$/],
  ['a misaligned tensor offset', withField('offset', 4n, (o) => o.at(-1)!), /data offset 4 is not aligned to 32$/],
  ['an unknown tensor type', withField('tensor-type', 77n), /tensor 'token_embd.weight' has unknown tensor type type#77$/],
];

describe('qgpu run on hostile files', () => {
  it.each(cases)('%s: exits 1 within seconds with one clear line', (name, bytes, message) => {
    const path = join(dir, `${name.replace(/\W+/g, '-')}.gguf`);
    writeFileSync(path, bytes);
    const started = performance.now();
    const r = runCli(['run', '--model', path, '--prompt', 'Once upon a time']);
    const seconds = (performance.now() - started) / 1000;
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('qgpu:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith(`qgpu: ${path.split('/').pop()}: `)).toBe(true);
    expect(lines[0]).toMatch(message);
    // Generous for a loaded 2-core machine (tsx start-up is most of it); a file-driven hang would take minutes.
    expect(seconds).toBeLessThan(20);
  });
});
