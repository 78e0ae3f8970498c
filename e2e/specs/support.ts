// Shared helpers for the specs: the golden reference files and a WebGPU probe.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type BrowserContext } from '@playwright/test';

const e2eDir = fileURLToPath(new URL('..', import.meta.url));
export const sharedDir = process.env.QGPU_FIXTURES ? resolve(process.env.QGPU_FIXTURES) : resolve(e2eDir, '../../shared');

export interface GreedyReference {
  readonly prompt: string;
  readonly prompt_token_ids: number[];
  readonly generated_ids: number[];
  readonly text: string;
}

export function loadGreedyReference(name: string): GreedyReference {
  const json = JSON.parse(readFileSync(resolve(sharedDir, 'reference', `${name}.json`), 'utf8')) as { greedy: GreedyReference };
  return json.greedy;
}

export const isCI = !!process.env.CI;

/**
 * Asks Chromium for a WebGPU adapter in a page of its own, so the page under test keeps a clean main thread.
 * Returns null when one is available, else the reason.
 */
export async function missingAdapterReason(context: BrowserContext): Promise<string | null> {
  const probe = await context.newPage();
  try {
    // Any same-origin URL will do: WebGPU needs a secure context (localhost is one; about:blank is not).
    await probe.goto('/models/index.json');
    return await probe.evaluate(async () => {
      if (!('gpu' in navigator)) return 'navigator.gpu is missing (WebGPU disabled in this Chromium)';
      const adapter = await navigator.gpu.requestAdapter().catch((e: unknown) => String(e));
      if (typeof adapter === 'string') return `requestAdapter() failed: ${adapter}`;
      return adapter ? null : 'navigator.gpu.requestAdapter() returned null';
    });
  } finally {
    await probe.close();
  }
}

/**
 * For tests that need WebGPU: outside CI a missing adapter skips the test with the reason (also printed); in CI it
 * fails the test, never skips it.
 */
export async function requireAdapter(context: BrowserContext): Promise<void> {
  const missing = await missingAdapterReason(context);
  if (missing) console.log(`${test.info().title}: no WebGPU adapter in Chromium: ${missing}`);
  test.skip(missing !== null && !isCI, `no WebGPU adapter: ${missing}`);
  expect(missing, 'CI needs a WebGPU adapter in Chromium').toBeNull();
}

declare global {
  interface Window {
    __mainThreadAdapterRequests?: number;
    /** Set by the demo when it creates its engine worker. */
    __qgpuWorker?: boolean;
  }
}

/** Init script: counts requestAdapter() calls on the page's main thread (workers have their own navigator.gpu). */
export function countMainThreadAdapterRequests(): void {
  window.__mainThreadAdapterRequests = 0;
  const gpu = navigator.gpu as GPU | undefined;
  if (!gpu) return;
  const request = gpu.requestAdapter.bind(gpu);
  gpu.requestAdapter = (options) => {
    window.__mainThreadAdapterRequests = (window.__mainThreadAdapterRequests ?? 0) + 1;
    return request(options);
  };
}
