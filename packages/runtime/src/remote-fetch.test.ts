// Every request for remote model bytes is CORS-only and sends no credentials (cookies, HTTP auth): range reads
// (urlSource), whole-file downloads into the cache (fetchModelBlob) and Hugging Face file discovery. A recording
// fetch stands in for the network and serves a small file with range support.
import { urlSource } from '@qgpu/formats';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fetchModelBlob } from './cache.ts';
import { hfSourceFromBaseUrl } from './llama/hf-source.ts';

const FILE = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);

function recordingFetch(): { fetch: typeof fetch; inits: { url: string; init: RequestInit | undefined }[] } {
  const inits: { url: string; init: RequestInit | undefined }[] = [];
  const fake = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    inits.push({ url, init });
    if (!url.endsWith('.gguf')) return new Response('not found', { status: 404 });
    const range = new Headers(init?.headers).get('Range');
    if (init?.method === 'HEAD') return new Response(null, { status: 200, headers: { 'Content-Length': String(FILE.length) } });
    if (range) {
      const [a, b] = range.replace('bytes=', '').split('-').map(Number) as [number, number];
      return new Response(FILE.slice(a, b + 1), { status: 206, headers: { 'Content-Range': `bytes ${a}-${b}/${FILE.length}` } });
    }
    return new Response(FILE.slice(), { status: 200, headers: { 'Content-Length': String(FILE.length) } });
  };
  return { fetch: fake as typeof fetch, inits };
}

afterEach(() => vi.unstubAllGlobals());

describe('remote model requests', () => {
  it('urlSource: HEAD and every range read are mode cors, credentials omit', async () => {
    const { fetch, inits } = recordingFetch();
    vi.stubGlobal('fetch', fetch);
    const source = await urlSource('https://models.example/m.gguf');
    expect(Array.from(await source.read(10, 5))).toEqual(Array.from(FILE.subarray(10, 15)));
    await source.read(900, 100);
    expect(inits).toHaveLength(3);
    for (const { init } of inits) expect(init).toMatchObject({ mode: 'cors', credentials: 'omit' });
  });

  it('fetchModelBlob (download without cache): mode cors, credentials omit', async () => {
    const { fetch, inits } = recordingFetch();
    const { blob } = await fetchModelBlob('https://models.example/m.gguf', { fetch, cache: false });
    expect(blob.size).toBe(FILE.length);
    expect(inits).toHaveLength(1);
    expect(inits[0]!.init).toMatchObject({ mode: 'cors', credentials: 'omit' });
  });

  it('hfSourceFromBaseUrl: index and tokenizer_config requests are mode cors, credentials omit', async () => {
    const { fetch, inits } = recordingFetch();
    vi.stubGlobal('fetch', fetch);
    await hfSourceFromBaseUrl('https://hf.example/model/');
    expect(inits.map((r) => r.url)).toEqual(['https://hf.example/model/model.safetensors.index.json', 'https://hf.example/model/tokenizer_config.json']);
    for (const { init } of inits) expect(init).toMatchObject({ mode: 'cors', credentials: 'omit' });
  });
});
