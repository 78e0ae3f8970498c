// The demo treats model files, their names and prompts as hostile input, and runs under a strict
// Content-Security-Policy (apps/demo/csp.ts): HTML in a prompt, a file name or a model's metadata is shown as text and
// never executes, and the whole load-and-generate path (module worker, WebGPU, comlink, /models range requests) works
// without a single CSP or Trusted Types violation.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { requireAdapter, sharedDir } from './support.ts';

declare global {
  interface Window {
    __xss?: string;
    __inline?: number;
    __cspViolations?: string[];
  }
}

/** Init script: records every securitypolicyviolation event of the page (CSP and Trusted Types alike). */
function recordViolations(): void {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations!.push(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
  });
}

/** Collects what must never happen on the page: dialogs, uncaught errors, console reports of refused content. */
function watchPage(page: Page): { problems: string[] } {
  const problems: string[] = [];
  page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); void d.dismiss(); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (/Content Security Policy|Trusted Type|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`); });
  return { problems };
}

const PAYLOAD = `<img src=x onerror="window.__xss='img'"><script>window.__xss='script'</script><svg onload="window.__xss='svg'">`;

/**
 * stories260K-f32 with general.name replaced by `name`. The new value is padded with spaces to the old length plus
 * a multiple of the 32-byte alignment, so everything after it (tensor infos, data) shifts by whole alignment units and
 * the file stays valid.
 */
function modelNamed(name: string): Buffer {
  const file = readFileSync(resolve(sharedDir, 'models/stories260K/stories260K-f32.gguf'));
  const key = Buffer.from('general.name');
  const at = file.indexOf(key) + key.length;
  expect(file.readUInt32LE(at)).toBe(8); // STRING
  const oldLength = Number(file.readBigUInt64LE(at + 4));
  const padded = Buffer.from(name, 'utf8');
  const newLength = oldLength + Math.ceil((padded.length - oldLength) / 32) * 32;
  const value = Buffer.concat([padded, Buffer.alloc(newLength - padded.length, 0x20)]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(newLength));
  return Buffer.concat([file.subarray(0, at + 4), length, value, file.subarray(at + 12 + oldLength)]);
}

test('the demo is served with a strict CSP header (no inline scripts, no eval, Trusted Types required)', async ({ page }) => {
  const response = await page.goto('/');
  const csp = response?.headers()['content-security-policy'] ?? '';
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
  expect(directives.get('script-src')).toEqual(["'self'"]);
  expect(directives.get('default-src')).toEqual(["'self'"]);
  expect(directives.get('object-src')).toEqual(["'none'"]);
  expect(directives.get('require-trusted-types-for')).toEqual(["'script'"]);
  expect(csp).not.toMatch(/unsafe-eval|unsafe-inline/);
  // The worker script gets the same policy (a <meta> tag would not reach it).
  const worker = await page.request.get('/src/engine.worker.ts?worker_file&type=module');
  expect(worker.headers()['content-security-policy']).toBe(csp);
});

test('the CSP is enforced: an injected inline script and eval do not run and are reported', async ({ page }) => {
  await page.addInitScript(recordViolations);
  await page.goto('/');
  const outcome = await page.evaluate(async () => {
    // A Trusted Types policy of our own gets past the Trusted Types gate, so what blocks the script is the CSP.
    const tt = (window as unknown as { trustedTypes: { createPolicy(name: string, rules: { createScript(s: string): string }): { createScript(s: string): unknown } } }).trustedTypes;
    const policy = tt.createPolicy('e2e-probe', { createScript: (s: string) => s });
    const script = document.createElement('script');
    script.text = policy.createScript('window.__inline = 1') as unknown as string;
    document.body.append(script);
    let evaluated = 'ran';
    try {
      (0, eval)(policy.createScript('window.__inline = 2') as unknown as string);
    } catch (error) {
      evaluated = (error as Error).name;
    }
    let sink = 'accepted';
    try {
      document.body.insertAdjacentHTML('beforeend', '<b>x</b>');
    } catch (error) {
      sink = (error as Error).name;
    }
    await new Promise((r) => setTimeout(r, 100));
    return { inline: window.__inline ?? null, evaluated, sink, violations: window.__cspViolations ?? [] };
  });
  expect(outcome.inline).toBeNull();
  expect(outcome.evaluated).toBe('EvalError');
  // Trusted Types: a plain string cannot reach an HTML sink at all.
  expect(outcome.sink).toBe('TypeError');
  expect(outcome.violations.some((v) => v.startsWith('script-src-elem'))).toBe(true);
  expect(outcome.violations.some((v) => v.startsWith('script-src') && !v.startsWith('script-src-elem'))).toBe(true);
  expect(outcome.violations.some((v) => v.startsWith('require-trusted-types-for'))).toBe(true);
});

test('HTML in the prompt, the file name and the model name is shown as text and never runs; no CSP violation on the whole path', async ({ page, context }) => {
  await requireAdapter(context);
  await page.addInitScript(recordViolations);
  const { problems } = watchPage(page);
  await page.goto('/');
  // Vite reloads the page once if it discovers a dependency to pre-bundle; a reload would drop the chosen file.
  await page.waitForLoadState('networkidle');

  await page.locator('#model-file').setInputFiles({ name: `${PAYLOAD}.gguf`, mimeType: 'application/octet-stream', buffer: modelNamed(PAYLOAD) });
  await page.locator('#prompt').fill(`${PAYLOAD} Once upon a time`);
  await page.locator('#max-tokens').fill('8');
  await page.locator('#generate').click();
  const body = page.locator('body');
  await expect(body).toHaveAttribute('data-status', /^(done|error)$/, { timeout: 180_000 });
  expect({ status: await body.getAttribute('data-status'), error: await page.locator('#error').textContent() }).toEqual({ status: 'done', error: '' });

  // The metadata name is on the page, verbatim, as text.
  expect(await page.locator('#model-info').textContent()).toContain(PAYLOAD);
  expect(await page.evaluate(() => ({
    xss: window.__xss ?? null,
    injected: document.querySelectorAll('body img, body svg, body script:not([src])').length,
    worker: window.__qgpuWorker ?? false,
    violations: window.__cspViolations ?? [],
  }))).toEqual({ xss: null, injected: 0, worker: true, violations: [] });
  expect(problems).toEqual([]);
});

test('a failing load shows a hostile file name as text', async ({ page }) => {
  await page.addInitScript(recordViolations);
  const { problems } = watchPage(page);
  await page.goto('/');
  await page.waitForLoadState('networkidle');
  await page.locator('#model-file').setInputFiles({ name: `${PAYLOAD}.gguf`, mimeType: 'application/octet-stream', buffer: Buffer.from('not a model at all') });
  await page.locator('#generate').click();
  await expect(page.locator('body')).toHaveAttribute('data-status', 'error', { timeout: 60_000 });
  // The file is checked before any GPU work, so the message is the format error, with the name as text.
  expect(await page.locator('#error').textContent()).toContain(`${PAYLOAD}.gguf: not a GGUF file (bad magic)`);
  expect(await page.evaluate(() => ({
    xss: window.__xss ?? null, injected: document.querySelectorAll('body img, body svg, body script:not([src])').length, violations: window.__cspViolations ?? [],
  }))).toEqual({ xss: null, injected: 0, violations: [] });
  expect(problems).toEqual([]);
});
