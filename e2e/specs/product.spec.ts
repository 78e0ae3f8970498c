// The product path a visitor takes: pick a model in the demo, download it with progress into the browser cache,
// generate llama.cpp's greedy tokens, reload and load again from the cache with no network request for the model,
// chat, stop, and a readable error for a corrupt file. Screenshots are attached to each test's results.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { loadGreedyReference, requireAdapter, sharedDir } from './support.ts';

const Q8 = '/models/stories260K/stories260K-q8_0.gguf';
const F32 = '/models/stories260K/stories260K-f32.gguf';

async function screenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  await testInfo.attach(name, { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
}

async function loadFromList(page: Page, model: string): Promise<void> {
  const list = page.locator('#model-list');
  await expect(list.locator('option', { hasText: model.slice('/models/'.length) })).toHaveCount(1);
  await list.selectOption({ value: model });
  await page.locator('#load').click();
  const body = page.locator('body');
  await expect(body).toHaveAttribute('data-status', /^(loaded|error)$/, { timeout: 120_000 });
  await expect(page.locator('#error')).toBeEmpty();
  await expect(body).toHaveAttribute('data-status', 'loaded');
}

async function progressAtEnd(page: Page): Promise<{ value: number; max: number }> {
  return page.locator('#load-progress').evaluate((p: HTMLProgressElement) => ({ value: p.value, max: p.max }));
}

test('download with progress to 100%, 32 greedy tokens equal llama.cpp, then a reload loads from the cache without network', async ({ page, context }, testInfo) => {
  await requireAdapter(context);
  const reference = loadGreedyReference('stories260K-q8_0');
  // Every request of the page and its engine worker for the model file (a fresh context starts with an empty cache).
  const modelRequests: string[] = [];
  context.on('request', (r) => { if (r.url().includes('stories260K-q8_0.gguf')) modelRequests.push(`${r.method()} ${r.url()}`); });

  await page.goto('/');
  await loadFromList(page, Q8);
  await expect(page.locator('#progress-label')).toContainText('ready');
  await expect(page.locator('#progress-label')).toContainText('downloaded at');
  const first = await progressAtEnd(page);
  expect(first.max).toBeGreaterThan(1);
  expect(first.value).toBe(first.max);
  // The download was seen: proves the listener observes the worker's requests, so the empty list below means something.
  expect(modelRequests.length).toBeGreaterThan(0);

  await page.locator('#max-tokens').fill('32');
  await page.locator('#temperature').fill('0');
  await page.locator('#prompt').fill(reference.prompt);
  await page.locator('#generate').click();
  const body = page.locator('body');
  await expect(body).toHaveAttribute('data-status', /^(done|error)$/, { timeout: 180_000 });
  await expect(page.locator('#error')).toBeEmpty();
  const ids = JSON.parse((await page.locator('#generated-ids').textContent()) ?? 'null') as unknown;
  expect(ids).toEqual(reference.generated_ids.slice(0, 32));
  await expect(page.locator('#stats')).toContainText('tok/s');
  await screenshot(page, testInfo, 'generated');

  modelRequests.length = 0;
  await page.reload();
  await loadFromList(page, Q8);
  await expect(page.locator('#progress-label')).toContainText('from the browser cache');
  const again = await progressAtEnd(page);
  expect(again.value).toBe(again.max);
  expect(modelRequests).toEqual([]);
  await screenshot(page, testInfo, 'loaded-from-cache');
});

test('a corrupt GGUF file shows a readable error', async ({ page, context }, testInfo) => {
  await requireAdapter(context);
  await page.goto('/');
  // The header is intact but the tensor data is cut off: the reader names the first tensor that does not fit.
  const truncated = readFileSync(resolve(sharedDir, 'models/stories260K/stories260K-q8_0.gguf')).subarray(0, 20_000);
  await page.locator('#model-file').setInputFiles({ name: 'corrupt.gguf', mimeType: 'application/octet-stream', buffer: truncated });
  await page.locator('#load').click();
  const body = page.locator('body');
  await expect(body).toHaveAttribute('data-status', /^(loaded|error)$/, { timeout: 60_000 });
  await expect(body).toHaveAttribute('data-status', 'error');
  await expect(page.locator('#error')).toContainText("corrupt.gguf: tensor 'output.weight' data");
  await expect(page.locator('#error')).toContainText('lies outside the file (20000 bytes)');
  await screenshot(page, testInfo, 'corrupt-file-error');
});

test('chat: a streamed reply rendered as text, stats, and Stop midway', async ({ page, context }, testInfo) => {
  await requireAdapter(context);
  await page.goto('/?mode=chat');
  await loadFromList(page, F32);
  await expect(page.locator('#chat-template')).toContainText('fallback');

  await page.locator('#max-tokens').fill('48');
  await page.locator('#chat-input').fill('Tell me a story about a <b>cat</b>.');
  await page.locator('#send').click();
  const body = page.locator('body');
  await expect(body).toHaveAttribute('data-status', /^(done|error)$/, { timeout: 180_000 });
  await expect(page.locator('#error')).toBeEmpty();
  // The user's markup is shown as typed, not interpreted.
  await expect(page.locator('.msg.user')).toHaveText('Tell me a story about a <b>cat</b>.');
  await expect(page.locator('.msg.user b')).toHaveCount(0);
  const reply = page.locator('.msg.assistant');
  await expect(reply).toHaveCount(1);
  expect(((await reply.textContent()) ?? '').trim().length).toBeGreaterThan(0);
  await expect(page.locator('#stats')).toContainText('decode');
  await screenshot(page, testInfo, 'chat');
  // docs/demo-chat.png is refreshed on request only, so a test run never dirties the working tree.
  if (process.env.QGPU_DOCS_SCREENSHOT === '1') writeFileSync(fileURLToPath(new URL('../../docs/demo-chat.png', import.meta.url)), await page.screenshot({ fullPage: true }));

  await page.locator('#max-tokens').fill('400');
  await page.locator('#chat-input').fill('And another one.');
  await page.locator('#send').click();
  await expect(body).toHaveAttribute('data-status', 'generating');
  await expect(page.locator('.msg.assistant').nth(1)).not.toBeEmpty({ timeout: 120_000 });
  await page.locator('#stop').click();
  await expect(body).toHaveAttribute('data-status', 'stopped', { timeout: 60_000 });
  await expect(page.locator('#stats')).toContainText('stop: abort');
  await screenshot(page, testInfo, 'chat-stopped');
});
