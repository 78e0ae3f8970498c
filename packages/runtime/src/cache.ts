// Model download, browser cache and integrity check (docs/api.md, "Loading models").
//
// Which store and why: Cache Storage (`caches`), not OPFS. A Cache API response body can be written straight from
// the network stream (`cache.put(url, new Response(stream))`), so a multi-GiB download never sits in memory, and
// `(await cache.match(url)).blob()` gives a disk-backed Blob whose slices are read lazily, which is exactly what
// the GGUF reader needs (header first, then one tensor at a time). OPFS would need a worker-only sync handle or a
// writable stream plus our own index of URLs; Cache Storage is keyed by URL already, works in windows and workers,
// and is what WebLLM and transformers.js use, so its quota behaviour is well known.
//
// How cached files and range reads fit together: with the cache on (the default wherever Cache Storage exists,
// i.e. browsers on https or localhost), a URL is downloaded once in full with progress, stored, and afterwards
// read from the cached Blob by slices; no range request goes to the network. With `cache: false`, or where there is
// no Cache Storage (Node, plain http), the URL is read with HTTP range requests as before (`urlSource`).
import { REMOTE_FETCH } from '@qgpu/formats';
import type { LoadOptions, LoadProgress } from './engine-api.ts';
import { QgpuError } from './errors.ts';

/** The Cache Storage bucket; bump the suffix if the stored layout ever changes. */
export const MODEL_CACHE_NAME = 'qgpu-models-v1';

export interface DownloadProgress {
  readonly loadedBytes: number;
  /** 0 when the server does not say (no Content-Length). */
  readonly totalBytes: number;
  /** Mean download rate since the download started, in bytes per second. */
  readonly bytesPerSecond: number;
  /** True when the bytes come from the browser cache (no network). */
  readonly fromCache: boolean;
}

export interface FetchModelOptions {
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
  /** Expected SHA-256 of the file, hex; a mismatch deletes the cached copy and throws QgpuError 'integrity'. */
  sha256?: string;
  /** Store in Cache Storage (default: true where it exists). */
  cache?: boolean;
  /** Injected for tests; default globalThis.fetch / globalThis.caches. */
  fetch?: typeof fetch;
  caches?: CacheStorage | undefined;
}

/** Progress is reported at most this often (and at the end), so a fast local download does not flood the worker. */
const PROGRESS_INTERVAL_MS = 100;

function normaliseSha256(hex: string): string {
  const h = hex.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(h)) throw new QgpuError('invalid_argument', `sha256 must be 64 hex digits, got '${hex}'`);
  return h;
}

/** SHA-256 of a Blob or bytes, hex, via crypto.subtle (one pass over the whole file in memory). */
export async function sha256Hex(data: Blob | Uint8Array): Promise<string> {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(await data.arrayBuffer());
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function checkIntegrity(data: Blob | Uint8Array, expected: string, what: string): Promise<void> {
  const actual = await sha256Hex(data);
  if (actual !== expected) throw new QgpuError('integrity', `${what} has sha256 ${actual}, expected ${expected}`);
}

function isQuotaError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'QuotaExceededError' || /quota/i.test(error.message));
}

async function quotaMessage(bytes: number): Promise<string> {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const estimate = await globalThis.navigator?.storage?.estimate?.().catch(() => undefined);
  const usage = estimate?.usage !== undefined && estimate.quota !== undefined ? ` (this site uses ${mib(estimate.usage)} of its ${mib(estimate.quota)} quota)` : '';
  return `not enough browser storage to cache the model (${bytes > 0 ? mib(bytes) : 'size unknown'})${usage}: ` +
    'free space, delete cached models (deleteCachedModel), or load with { cache: false } to read it from the network instead';
}

/** Counts bytes through a stream and reports progress with the rate. */
function counting(total: number, onProgress: FetchModelOptions['onProgress']): TransformStream<Uint8Array, Uint8Array> & { readonly loaded: () => number } {
  const started = performance.now();
  let loaded = 0;
  let lastReport = -Infinity;
  const report = (force: boolean) => {
    const now = performance.now();
    if (!onProgress || (!force && now - lastReport < PROGRESS_INTERVAL_MS)) return;
    lastReport = now;
    const seconds = (now - started) / 1000;
    onProgress({ loadedBytes: loaded, totalBytes: total, bytesPerSecond: seconds > 0 ? loaded / seconds : 0, fromCache: false });
  };
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      loaded += chunk.byteLength;
      report(false);
      controller.enqueue(chunk);
    },
    flush() { report(true); },
  });
  return Object.assign(stream, { loaded: () => loaded });
}

async function startDownload(url: string, options: FetchModelOptions): Promise<{ body: ReadableStream<Uint8Array>; total: number; type: string }> {
  const doFetch = options.fetch ?? globalThis.fetch;
  let response: Response;
  try {
    response = await doFetch(url, { ...REMOTE_FETCH, ...(options.signal ? { signal: options.signal } : {}) });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new QgpuError('network', `could not download ${url}: ${(error as Error).message}`, { cause: error });
  }
  if (!response.ok || !response.body) throw new QgpuError('network', `could not download ${url}: HTTP ${response.status} ${response.statusText}`.trim());
  const length = Number(response.headers.get('Content-Length') ?? '0');
  return { body: response.body, total: Number.isFinite(length) ? length : 0, type: response.headers.get('Content-Type') ?? 'application/octet-stream' };
}

/**
 * The model at `url` as a Blob: from Cache Storage when it is there (no network), else downloaded once with
 * progress, stored, and verified. Without a cache (or with `cache: false`) it is downloaded into memory.
 */
export async function fetchModelBlob(url: string, options: FetchModelOptions = {}): Promise<{ blob: Blob; fromCache: boolean }> {
  const expected = options.sha256 === undefined ? undefined : normaliseSha256(options.sha256);
  const storage = options.cache === false ? undefined : options.caches ?? (globalThis as { caches?: CacheStorage }).caches;
  const cache = storage ? await storage.open(MODEL_CACHE_NAME) : undefined;
  const hit = await cache?.match(url);
  if (hit) {
    const blob = await hit.blob();
    // Verified when it was stored; the expected hash is checked again only if it changed since (a new pin).
    if (expected !== undefined && hit.headers.get('X-Qgpu-Sha256') !== expected) await checkIntegrity(blob, expected, `the cached copy of ${url}`);
    options.onProgress?.({ loadedBytes: blob.size, totalBytes: blob.size, bytesPerSecond: 0, fromCache: true });
    return { blob, fromCache: true };
  }
  const { body, total, type } = await startDownload(url, options);
  const counter = counting(total, options.onProgress);
  const stream = body.pipeThrough(counter);
  let blob: Blob;
  if (cache) {
    try {
      await cache.put(url, new Response(stream, { headers: { 'Content-Type': type, ...(total > 0 ? { 'Content-Length': String(total) } : {}) } }));
    } catch (error) {
      await cache.delete(url).catch(() => false);
      if (isQuotaError(error)) throw new QgpuError('quota_exceeded', await quotaMessage(total), { cause: error });
      throw error;
    }
    const stored = await cache.match(url);
    if (!stored) throw new QgpuError('quota_exceeded', await quotaMessage(total));
    blob = await stored.blob();
  } else {
    blob = await new Response(stream).blob();
  }
  try {
    if (total > 0 && blob.size !== total) throw new QgpuError('network', `the download of ${url} ended after ${blob.size} of ${total} bytes`);
    if (expected !== undefined) await checkIntegrity(blob, expected, url);
  } catch (error) {
    await cache?.delete(url).catch(() => false);
    throw error;
  }
  if (cache && expected !== undefined) {
    // Remember that this copy was verified, so the next load need not hash it again.
    await cache.put(url, new Response(blob, { headers: { 'Content-Type': type, 'Content-Length': String(blob.size), 'X-Qgpu-Sha256': expected } }));
  }
  return { blob, fromCache: false };
}

/** Whether a URL is one the cache can hold (http or https; Cache Storage refuses other schemes). */
function isHttpUrl(source: string): boolean {
  try {
    const { protocol } = new URL(source, globalThis.location?.href);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * What load() reads: a URL becomes the cached (or downloaded) Blob when a cache is available or a sha256 is
 * required, else it stays a URL for range reads; a Blob or bytes are checked against `sha256` when given. Any
 * other source (an in-process ByteSource) passes through.
 */
export async function prepareModelSource<S>(source: S, options: FetchModelOptions = {}): Promise<S | Blob> {
  if (typeof source === 'string') {
    const hasCache = options.cache !== false && (options.caches ?? (globalThis as { caches?: CacheStorage }).caches) !== undefined;
    if (!isHttpUrl(source) || (!hasCache && options.sha256 === undefined)) return source;
    return (await fetchModelBlob(new URL(source, globalThis.location?.href).href, options)).blob;
  }
  if (options.sha256 !== undefined && (source instanceof Blob || source instanceof Uint8Array)) {
    await checkIntegrity(source, normaliseSha256(options.sha256), source instanceof File ? `the file ${source.name}` : 'the model');
  }
  return source;
}

/**
 * Adds `bytesPerSecond` (mean rate since the phase's first event) to byte-counting progress events of any phase,
 * so the weights upload reports its rate as the download does.
 */
export function withRate(onProgress: LoadOptions['onProgress']): (phase: LoadProgress['phase'], loadedBytes: number, totalBytes: number) => void {
  let phase: LoadProgress['phase'] | undefined;
  let started = 0;
  return (next, loadedBytes, totalBytes) => {
    if (!onProgress) return;
    const now = performance.now();
    if (next !== phase) { phase = next; started = now; }
    const seconds = (now - started) / 1000;
    onProgress({ phase: next, loadedBytes, totalBytes, ...(seconds > 0 ? { bytesPerSecond: loadedBytes / seconds } : {}) });
  };
}

/** The download part of load()'s options, its progress reported as the 'download' phase. */
export function downloadOptionsOf(options: LoadOptions): FetchModelOptions {
  const out: FetchModelOptions = {};
  if (options.cache !== undefined) out.cache = options.cache;
  if (options.sha256 !== undefined) out.sha256 = options.sha256;
  if (options.signal !== undefined) out.signal = options.signal;
  const onProgress = options.onProgress;
  if (onProgress) out.onProgress = (p) => onProgress({ phase: 'download', ...p });
  return out;
}

/**
 * load()'s first step: prepares the source (download, cache, integrity) and opens it with `open` (the GGUF header
 * reader). If the file cannot be opened or parsed, its cached copy is deleted, so a corrupt or wrong file is not
 * served again from the cache on the next try.
 */
export async function openModelFile<S, F>(source: S, options: LoadOptions, open: (source: S | Blob) => Promise<F>): Promise<F> {
  const prepared = await prepareModelSource(source, downloadOptionsOf(options));
  try {
    return await open(prepared);
  } catch (error) {
    if (typeof source === 'string' && prepared !== source) await deleteCachedModel(source).catch(() => {});
    throw error;
  }
}

/** URLs of the models in the browser cache, with their sizes. */
export async function listCachedModels(storage: CacheStorage | undefined = (globalThis as { caches?: CacheStorage }).caches): Promise<{ url: string; bytes: number }[]> {
  if (!storage) return [];
  const cache = await storage.open(MODEL_CACHE_NAME);
  const out: { url: string; bytes: number }[] = [];
  for (const request of await cache.keys()) {
    const response = await cache.match(request);
    // blob() of a cached response is a handle to the stored body (nothing is read), so its size is cheap.
    if (response) out.push({ url: request.url, bytes: (await response.blob()).size });
  }
  return out;
}

/** Removes one model (or, without a URL, every model) from the browser cache. */
export async function deleteCachedModel(url?: string, storage: CacheStorage | undefined = (globalThis as { caches?: CacheStorage }).caches): Promise<void> {
  if (!storage) return;
  if (url === undefined) await storage.delete(MODEL_CACHE_NAME);
  else await (await storage.open(MODEL_CACHE_NAME)).delete(new URL(url, globalThis.location?.href).href);
}
