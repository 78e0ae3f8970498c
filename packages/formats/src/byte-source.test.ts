// The three ways model bytes arrive: a Blob/File, a URL read with HTTP range requests, and bytes in memory. Each
// must give identical tensors, and the URL source must never download more than the ranges asked for.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobSource, bytesSource, FormatError, urlSource } from './byte-source.ts';
import { readGguf, readTensorBytes } from './gguf.ts';

const SHARED = process.env.QGPU_FIXTURES ?? new URL('../../../../shared/', import.meta.url).pathname;
const bytes = new Uint8Array(readFileSync(`${SHARED}/models/stories260K/stories260K-f16.gguf`));

let server: Server;
let base = '';
const requests: { method: string; range: string | undefined; sentBytes: number }[] = [];
let honourRanges = true;

beforeAll(async () => {
  server = createServer((req, res) => {
    const range = req.headers.range;
    const match = range ? /^bytes=(\d+)-(\d+)$/.exec(range) : null;
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'Content-Length': bytes.byteLength, 'Accept-Ranges': 'bytes' }).end();
      requests.push({ method: 'HEAD', range, sentBytes: 0 });
    } else if (match && honourRanges) {
      const [start, end] = [Number(match[1]), Number(match[2])];
      const body = bytes.subarray(start, end + 1);
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${bytes.byteLength}`, 'Content-Length': body.byteLength }).end(body);
      requests.push({ method: 'GET', range, sentBytes: body.byteLength });
    } else {
      res.writeHead(200, { 'Content-Length': bytes.byteLength }).end(bytes);
      requests.push({ method: 'GET', range, sentBytes: bytes.byteLength });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function allTensors(source: Parameters<typeof readGguf>[0]) {
  const file = await readGguf(source);
  return Promise.all(file.tensors.map(async (t) => [t.name, Array.from(await readTensorBytes(file, t))] as const));
}

describe('byte sources', () => {
  it('Blob, URL (HTTP range requests) and memory give identical tensors; the URL source reads one range per tensor', async () => {
    const expected = await allTensors(bytesSource(bytes));
    expect(await allTensors(blobSource(new Blob([bytes]), 'model.gguf'))).toEqual(expected);
    requests.length = 0;
    expect(await allTensors(await urlSource(`${base}/model.gguf`))).toEqual(expected);
    const gets = requests.filter((r) => r.method === 'GET');
    expect(gets.every((r) => r.range !== undefined)).toBe(true);
    // A few header chunks + exactly one request per tensor; no request ever carried the whole file.
    expect(gets.length - expected.length).toBeGreaterThanOrEqual(1);
    expect(gets.length - expected.length).toBeLessThanOrEqual(2);
    expect(Math.max(...gets.map((r) => r.sentBytes))).toBeLessThan(bytes.byteLength);
  });

  it('a server that ignores Range is an error, not a silent full download per tensor', async () => {
    honourRanges = false;
    try {
      const source = await urlSource(`${base}/model.gguf`);
      await expect(source.read(100, 10)).rejects.toThrow(/did not honour a range request/);
    } finally {
      honourRanges = true;
    }
  });

  it('rejects reads outside the source', async () => {
    await expect(bytesSource(bytes, 'm').read(bytes.byteLength - 4, 8)).rejects.toBeInstanceOf(FormatError);
  });
});
