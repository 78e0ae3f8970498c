// The demo's Content-Security-Policy, sent as an HTTP header by the dev and preview servers (a header also covers
// the engine worker's script, which a <meta> tag in index.html would not). Strict: scripts only from this origin
// (no inline scripts, no eval), Trusted Types required so no string can reach an HTML or script sink, styles from
// this origin plus the exact inline <style> blocks of index.html (by hash, recomputed when the file changes), models
// from this origin or any HTTPS host that allows CORS. docs/reliability.md explains each directive.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Plugin } from 'vite';

/** The policy for a page whose inline <style> blocks are `styles` (their text, as in the HTML). */
export function contentSecurityPolicy(styles: readonly string[]): string {
  const styleHashes = styles.map((css) => `'sha256-${createHash('sha256').update(css, 'utf8').digest('base64')}'`);
  return [
    "default-src 'self'",
    "script-src 'self'",
    `style-src 'self' ${styleHashes.join(' ')}`.trim(),
    "img-src 'self' data:",
    // Models: this origin (the dev server's /models/) or any HTTPS server that answers CORS; HMR's WebSocket is 'self'.
    "connect-src 'self' https:",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
  ].join('; ');
}

/** The text of every inline <style> block of an HTML document. */
export function inlineStyles(html: string): string[] {
  return [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
}

/**
 * Adds the policy header to every response of the dev server (styles hashed from `devHtml`, the source index.html)
 * and of the preview server (from `previewHtml`, the built one, whose styles the build may have minified).
 */
export function cspHeaders(devHtml: string, previewHtml: string): Plugin {
  const middlewareFor = (htmlPath: string) => {
    let cached: { mtimeMs: number; policy: string } | undefined;
    const policy = (): string => {
      const { mtimeMs } = statSync(htmlPath);
      if (cached?.mtimeMs !== mtimeMs) cached = { mtimeMs, policy: contentSecurityPolicy(inlineStyles(readFileSync(htmlPath, 'utf8'))) };
      return cached.policy;
    };
    return (_req: unknown, res: { setHeader(name: string, value: string): void }, next: () => void): void => {
      res.setHeader('Content-Security-Policy', policy());
      next();
    };
  };
  return {
    name: 'qgpu-csp',
    configureServer(server) { server.middlewares.use(middlewareFor(devHtml)); },
    configurePreviewServer(server) { server.middlewares.use(middlewareFor(previewHtml)); },
  };
}
