// UI states driven through the controls: picking a local model, load progress, Stop mid-generation, generating again.
import { expect, test } from '@playwright/test';
import { resolve } from 'node:path';
import { loadGreedyReference, requireAdapter, sharedDir } from './support.ts';

const reference = loadGreedyReference('stories260K-f32');

test('pick a local model, load with progress, stop a generation, generate again', async ({ page, context }) => {
  await requireAdapter(context);

  await page.goto('/');
  const body = page.locator('body');
  const list = page.locator('#model-list');
  await expect(list.locator('option', { hasText: 'stories260K/stories260K-f32.gguf' })).toHaveCount(1);
  await list.selectOption({ value: '/models/stories260K/stories260K-f32.gguf' });
  await expect(page.locator('#model-url')).toHaveValue('/models/stories260K/stories260K-f32.gguf');

  await page.locator('#load').click();
  await expect(body).toHaveAttribute('data-status', /^(loaded|error)$/, { timeout: 120_000 });
  await expect(page.locator('#error')).toBeEmpty();
  await expect(body).toHaveAttribute('data-status', 'loaded');
  await expect(page.locator('#progress-label')).toContainText('ready');
  const progress = await page.locator('#load-progress').evaluate((p: HTMLProgressElement) => ({ value: p.value, max: p.max }));
  expect(progress.max).toBeGreaterThan(1);
  expect(progress.value).toBe(progress.max);
  await expect(page.locator('#adapter')).toContainText('WebGPU adapter');

  // Long enough that Stop lands mid-generation (the context holds 512 tokens).
  await page.locator('#max-tokens').fill('400');
  await page.locator('#generate').click();
  await expect(body).toHaveAttribute('data-status', 'generating');
  await expect(page.locator('#output')).not.toBeEmpty({ timeout: 120_000 });
  await page.locator('#stop').click();
  await expect(body).toHaveAttribute('data-status', 'stopped');
  await expect(page.locator('#stats')).toContainText('stop: aborted');
  const partial = JSON.parse((await page.locator('#generated-ids').textContent()) ?? '[]') as number[];
  expect(partial.length).toBeGreaterThan(0);
  expect(partial.length).toBeLessThan(400);
  expect(partial.slice(0, 64)).toEqual(reference.generated_ids.slice(0, Math.min(64, partial.length)));

  // Stop kept the model loaded: Generate runs again without a reload.
  await page.locator('#max-tokens').fill('8');
  await page.locator('#generate').click();
  await expect(body).toHaveAttribute('data-status', /^(done|error)$/, { timeout: 180_000 });
  await expect(page.locator('#error')).toBeEmpty();
  const ids = JSON.parse((await page.locator('#generated-ids').textContent()) ?? 'null') as unknown;
  expect(ids).toEqual(reference.generated_ids.slice(0, 8));
});

test('a model chosen as a file crosses to the worker as a Blob and generates the golden tokens', async ({ page, context }) => {
  await requireAdapter(context);

  await page.goto('/');
  await page.locator('#model-file').setInputFiles(resolve(sharedDir, 'models/stories260K/stories260K-f32.gguf'));
  await page.locator('#max-tokens').fill('8');
  await page.locator('#generate').click();
  const body = page.locator('body');
  await expect(body).toHaveAttribute('data-status', /^(done|error)$/, { timeout: 180_000 });
  await expect(page.locator('#error')).toBeEmpty();
  await expect(page.locator('#model-info')).toContainText('context');
  const ids = JSON.parse((await page.locator('#generated-ids').textContent()) ?? 'null') as unknown;
  expect(ids).toEqual(reference.generated_ids.slice(0, 8));
});
