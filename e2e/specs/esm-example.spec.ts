// The no-bundler build (packages/worker/dist, built by the Playwright web server command) in the plain-ESM example
// page apps/example-esm: createEngine() starts the bundled worker, loads a model and streams a chat reply. The page
// and the built files are served from disk by a route under the dev server's origin (a secure context).
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { requireAdapter } from './support.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript' };

test('the plain-ESM example runs the built bundle: worker, load, streamed chat', async ({ page, context }, testInfo) => {
  await requireAdapter(context);
  // context.route, not page.route: the engine worker's own script request must be served too.
  await context.route('**/esm-example/**', async (route) => {
    const path = new URL(route.request().url()).pathname.replace(/^\/esm-example\//, '');
    const file = path.startsWith('qgpu/') ? resolve(repo, 'packages/worker/dist', path.slice('qgpu/'.length)) : resolve(repo, 'apps/example-esm', path);
    await route.fulfill({ body: readFileSync(file), contentType: types[extname(file)] ?? 'application/octet-stream' });
  });
  await page.goto(`/esm-example/index.html?${new URLSearchParams({ model: '/models/stories260K/stories260K-q8_0.gguf' })}`);
  const body = page.locator('body');
  await expect(body).toHaveAttribute('data-status', /^(done|error)$/, { timeout: 180_000 });
  await testInfo.attach('esm-example', { body: await page.screenshot(), contentType: 'image/png' });
  await expect(page.locator('#status')).toContainText('tok/s');
  await expect(body).toHaveAttribute('data-status', 'done');
  expect(((await page.locator('#reply').textContent()) ?? '').length).toBeGreaterThan(0);
});
