// Download, cache and integrity logic in Node: a fake server (an injected fetch streaming in chunks) and an
// in-memory CacheStorage with a quota. The real Cache Storage is exercised by the e2e suite (reload without network).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deleteCachedModel, fetchModelBlob, listCachedModels, MODEL_CACHE_NAME, openModelFile, prepareModelSource, sha256Hex, withRate, type DownloadProgress } from './cache.ts';
import type { LoadProgress } from './engine-api.ts';
import { QgpuError } from './errors.ts';

const URL_A = 'https://models.example/a.gguf';
const bytes = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 251);
const hash = createHash('sha256').update(bytes).digest('hex');

/** A server answering every URL with `body` in 10 chunks; counts requests. */
function server(body: Uint8Array, init: { status?: number; length?: boolean } = {}) {
  const calls: string[] = [];
  const fetch = (async (url: string) => {
    calls.push(url);
    if (init.status && init.status !== 200) return new Response('missing', { status: init.status, statusText: 'Not Found' });
    const step = Math.ceil(body.length / 10);
    let at = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= body.length) return controller.close();
        controller.enqueue(body.slice(at, at + step));
        at += step;
      },
    });
    return new Response(stream, { headers: init.length === false ? {} : { 'Content-Length': String(body.length) } });
  }) as unknown as typeof globalThis.fetch;
  return { fetch, calls };
}

/** Cache Storage in memory, refusing puts past `quotaBytes` with a QuotaExceededError as browsers do. */
function memoryCaches(quotaBytes = Infinity): CacheStorage & { stores: Map<string, Map<string, Response>> } {
  const stores = new Map<string, Map<string, Response>>();
  const used = () => [...stores.values()].flatMap((s) => [...s.values()]).reduce((n, r) => n + Number(r.headers.get('X-Size')), 0);
  const open = async (name: string) => {
    if (!stores.has(name)) stores.set(name, new Map());
    const store = stores.get(name)!;
    return {
      async match(request: string | Request) {
        const r = store.get(typeof request === 'string' ? request : request.url);
        return r ? new Response(await r.clone().blob(), { headers: r.headers }) : undefined;
      },
      async put(key: string, response: Response) {
        const blob = await response.blob();
        if (used() + blob.size > quotaBytes) throw new DOMException('Quota exceeded.', 'QuotaExceededError');
        const headers = new Headers(response.headers);
        headers.set('X-Size', String(blob.size));
        store.set(key, new Response(blob, { headers }));
      },
      async delete(request: string | Request) { return store.delete(typeof request === 'string' ? request : request.url); },
      async keys() { return [...store.keys()].map((url) => new Request(url)); },
    } as unknown as Cache;
  };
  return { stores, open, delete: async (name: string) => stores.delete(name) } as unknown as CacheStorage & { stores: Map<string, Map<string, Response>> };
}

describe('fetchModelBlob', () => {
  it('downloads once with progress (bytes, total, rate), then serves the cache without a request', async () => {
    const { fetch, calls } = server(bytes);
    const caches = memoryCaches();
    const seen: DownloadProgress[] = [];
    const first = await fetchModelBlob(URL_A, { fetch, caches, onProgress: (p) => seen.push(p) });
    expect(first.fromCache).toBe(false);
    expect(new Uint8Array(await first.blob.arrayBuffer())).toEqual(bytes);
    const last = seen.at(-1)!;
    expect(last).toMatchObject({ loadedBytes: bytes.length, totalBytes: bytes.length, fromCache: false });
    expect(last.bytesPerSecond).toBeGreaterThan(0);
    expect(seen.every((p, i) => i === 0 || p.loadedBytes >= seen[i - 1]!.loadedBytes)).toBe(true);

    const second = await fetchModelBlob(URL_A, { fetch, caches, onProgress: (p) => seen.push(p) });
    expect(second.fromCache).toBe(true);
    expect(calls).toEqual([URL_A]);
    expect(seen.at(-1)).toMatchObject({ loadedBytes: bytes.length, totalBytes: bytes.length, fromCache: true });
    expect(await listCachedModels(caches)).toEqual([{ url: URL_A, bytes: bytes.length }]);
    await deleteCachedModel(URL_A, caches);
    expect(await listCachedModels(caches)).toEqual([]);
  });

  it('checks sha256: a match is stored as verified, a mismatch throws QgpuError integrity and keeps nothing', async () => {
    const caches = memoryCaches();
    await fetchModelBlob(URL_A, { fetch: server(bytes).fetch, caches, sha256: hash.toUpperCase() });
    expect(caches.stores.get(MODEL_CACHE_NAME)!.get(URL_A)!.headers.get('X-Qgpu-Sha256')).toBe(hash);
    const other = memoryCaches();
    const wrong = '0'.repeat(64);
    const error = await fetchModelBlob(URL_A, { fetch: server(bytes).fetch, caches: other, sha256: wrong }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QgpuError);
    expect(error).toMatchObject({ code: 'integrity', message: `${URL_A} has sha256 ${hash}, expected ${wrong}` });
    expect(await listCachedModels(other)).toEqual([]);
  });

  it('a cached copy is re-checked against a hash it was not verified with', async () => {
    const caches = memoryCaches();
    await fetchModelBlob(URL_A, { fetch: server(bytes).fetch, caches });
    await expect(fetchModelBlob(URL_A, { fetch: server(bytes).fetch, caches, sha256: 'f'.repeat(64) })).rejects.toMatchObject({ code: 'integrity' });
    await expect(fetchModelBlob(URL_A, { fetch: server(bytes).fetch, caches, sha256: hash })).resolves.toMatchObject({ fromCache: true });
  });

  it('quota exhaustion is a clear QgpuError quota_exceeded and leaves no partial entry', async () => {
    const caches = memoryCaches(50_000);
    const error = await fetchModelBlob(URL_A, { fetch: server(bytes).fetch, caches }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'QgpuError', code: 'quota_exceeded' });
    expect((error as Error).message).toMatch(/not enough browser storage to cache the model \(0\.1 MiB\).*cache: false/);
    expect(await listCachedModels(caches)).toEqual([]);
  });

  it('HTTP errors are QgpuError network with the status', async () => {
    await expect(fetchModelBlob(URL_A, { fetch: server(bytes, { status: 404 }).fetch, caches: memoryCaches() }))
      .rejects.toMatchObject({ code: 'network', message: `could not download ${URL_A}: HTTP 404 Not Found` });
  });

  it('without a cache the download stays in memory; without Content-Length the total is 0', async () => {
    const { fetch, calls } = server(bytes, { length: false });
    const seen: DownloadProgress[] = [];
    const r = await fetchModelBlob(URL_A, { fetch, cache: false, onProgress: (p) => seen.push(p) });
    expect(r.blob.size).toBe(bytes.length);
    await fetchModelBlob(URL_A, { fetch, cache: false });
    expect(calls).toHaveLength(2);
    expect(seen.at(-1)).toMatchObject({ loadedBytes: bytes.length, totalBytes: 0 });
  });
});

describe('prepareModelSource', () => {
  it('keeps a URL for range reads when there is no cache and no hash; checks Blobs and bytes against sha256', async () => {
    expect(await prepareModelSource(URL_A, { caches: undefined, fetch: server(bytes).fetch })).toBe(URL_A);
    const blob = new Blob([bytes]);
    expect(await prepareModelSource(blob, { sha256: hash })).toBe(blob);
    await expect(prepareModelSource(bytes, { sha256: 'a'.repeat(64) })).rejects.toMatchObject({ code: 'integrity' });
    await expect(prepareModelSource(bytes, { sha256: 'xyz' })).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('downloads a URL into a Blob when a cache exists or a hash is required', async () => {
    const viaHash = await prepareModelSource(URL_A, { caches: undefined, fetch: server(bytes).fetch, sha256: hash });
    expect(viaHash).toBeInstanceOf(Blob);
    const viaCache = await prepareModelSource(URL_A, { caches: memoryCaches(), fetch: server(bytes).fetch });
    expect((viaCache as Blob).size).toBe(bytes.length);
  });

  it('sha256Hex agrees with node:crypto', async () => {
    expect(await sha256Hex(new Blob([bytes]))).toBe(hash);
  });
});

describe('openModelFile', () => {
  it('evicts the cached copy when the file does not open, and keeps it when it does', async () => {
    const caches = memoryCaches();
    (globalThis as { caches?: CacheStorage }).caches = caches;
    try {
      // Filled first: openModelFile uses the global fetch, which must not be reached (the cache answers).
      await fetchModelBlob(URL_A, { fetch: server(bytes).fetch, caches });
      await expect(openModelFile(URL_A, {}, async () => { throw new Error('not a GGUF file'); })).rejects.toThrow('not a GGUF file');
      expect(await listCachedModels(caches)).toEqual([]);
      await fetchModelBlob(URL_A, { fetch: server(bytes).fetch, caches });
      expect(await openModelFile(URL_A, {}, async (s) => (s as Blob).size)).toBe(bytes.length);
      expect(await listCachedModels(caches)).toHaveLength(1);
    } finally {
      delete (globalThis as { caches?: CacheStorage }).caches;
    }
  });
});

describe('withRate', () => {
  it('adds the mean rate since the phase began to byte progress, restarting the clock per phase', async () => {
    const seen: LoadProgress[] = [];
    const report = withRate((p) => seen.push(p));
    report('weights', 0, 1000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    report('weights', 1000, 1000);
    report('pipelines', 1000, 1000);
    expect(seen[0]).toEqual({ phase: 'weights', loadedBytes: 0, totalBytes: 1000 });
    // 1000 bytes in ≥ 20 ms: at most 50 kB/s, and positive.
    expect(seen[1]!.bytesPerSecond).toBeGreaterThan(0);
    expect(seen[1]!.bytesPerSecond).toBeLessThanOrEqual(1000 / 0.019);
    expect(seen[2]).toEqual({ phase: 'pipelines', loadedBytes: 1000, totalBytes: 1000 });
  });
});
