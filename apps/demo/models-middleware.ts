// Serves a model folder read-only at a URL prefix with the HTTP semantics the runtime's URL source needs: HEAD for
// the size, single `Range: bytes=a-b` requests answered with 206. Also `<prefix>index.json`, the list of .gguf files,
// for the demo's model picker. Written by hand because model files must never be transformed or cached by Vite.
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, relative, resolve, sep } from 'node:path';

type Next = (error?: unknown) => void;
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

export interface ListedModel {
  readonly path: string;
  readonly url: string;
  readonly bytes: number;
}

/** Parses one `bytes=` range against a file size; null when unsatisfiable, undefined when absent or multi-range. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | undefined {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0 || size === 0) return null;
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  return start < size && start <= end ? { start, end } : null;
}

async function listGguf(root: string, dir = root, depth = 0): Promise<string[]> {
  // Shallow on purpose: fixtures are one or two levels deep, and a mis-pointed root must not walk a whole disk.
  if (depth > 3) return [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const found: string[] = [];
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) found.push(...(await listGguf(root, full, depth + 1)));
    else if (e.isFile() && e.name.endsWith('.gguf')) found.push(relative(root, full).split(sep).join('/'));
  }
  return found.sort();
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export function modelsMiddleware(root: string, prefix = '/models/'): Middleware {
  const base = resolve(root);
  return (req, res, next) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!url.pathname.startsWith(prefix)) return next();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'read-only\n');
    }
    void handle(url, req, res).catch(next);
  };

  async function handle(url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rel = decodeURIComponent(url.pathname.slice(prefix.length));
    if (rel === 'index.json') {
      const models: ListedModel[] = [];
      for (const path of await listGguf(base)) {
        models.push({ path, url: prefix + path.split('/').map(encodeURIComponent).join('/'), bytes: (await stat(join(base, path))).size });
      }
      return send(res, 200, JSON.stringify({ models }), 'application/json');
    }
    const file = resolve(base, rel);
    if (file !== base && !file.startsWith(base + sep)) return send(res, 403, 'outside the models folder\n');
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return send(res, 404, `not found: ${rel}\n`);
    const size = info.size;
    const headers = { 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream', 'Cache-Control': 'no-cache' };
    const range = parseRange(req.headers.range, size);
    if (range === null) {
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` });
      return void res.end();
    }
    const { start, end } = range ?? { start: 0, end: size - 1 };
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'Content-Length': size === 0 ? 0 : end - start + 1,
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD' || size === 0) return void res.end();
    const stream = createReadStream(file, { start, end });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }
}
