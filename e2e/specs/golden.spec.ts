// The demo, driven by URL parameters, generates llama.cpp's greedy tokens in a worker on Chromium's WebGPU.
import { expect, test } from '@playwright/test';
import { countMainThreadAdapterRequests, loadGreedyReference, requireAdapter } from './support.ts';

const reference = loadGreedyReference('stories260K-f32');

test('stories260K-f32: 64 greedy tokens in the engine worker equal llama.cpp', async ({ page, context }) => {
  await requireAdapter(context);

  await page.addInitScript(countMainThreadAdapterRequests);
  const engineWorker = page.waitForEvent('worker', { predicate: (w) => w.url().includes('engine.worker') });
  const params = new URLSearchParams({
    model: '/models/stories260K/stories260K-f32.gguf', prompt: reference.prompt, maxTokens: '64', temperature: '0', autorun: '1',
  });
  await page.goto(`/?${params}`);
  await engineWorker;

  const body = page.locator('body');
  await expect(body).toHaveAttribute('data-status', /^(done|error)$/, { timeout: 180_000 });
  // Compared together so that a failure shows the page's error message.
  expect({ status: await body.getAttribute('data-status'), error: await page.locator('#error').textContent() })
    .toEqual({ status: 'done', error: '' });

  const ids = JSON.parse((await page.locator('#generated-ids').textContent()) ?? 'null') as unknown;
  expect(ids).toEqual(reference.generated_ids);
  // textContent, not toHaveText: the reference text has a newline that toHaveText would normalise away.
  expect(await page.locator('#output').textContent()).toBe(reference.text);

  // The engine ran in the worker: the page's own navigator.gpu was never asked for an adapter.
  expect(await page.evaluate(() => ({ worker: window.__qgpuWorker, mainThreadRequests: window.__mainThreadAdapterRequests })))
    .toEqual({ worker: true, mainThreadRequests: 0 });
});
