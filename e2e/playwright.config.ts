import { defineConfig } from '@playwright/test';

// Not 5173, so a developer's own `pnpm demo` keeps running beside the tests.
const port = Number(process.env.E2E_PORT ?? 5174);
const baseURL = `http://localhost:${port}`;

export default defineConfig({
  testDir: './specs',
  // SwiftShader runs WebGPU on two CPU cores: one page at a time, with room for the slow first pipeline compiles.
  workers: 1,
  fullyParallel: false,
  timeout: 240_000,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [['list'], ['json', { outputFile: 'test-results/results.json' }]],
  use: {
    baseURL,
    browserName: 'chromium',
    headless: true,
    trace: 'retain-on-failure',
    // A screenshot of every test's final page lands in test-results/ (the specs attach their own at key steps too).
    screenshot: 'on',
    launchOptions: {
      // The system Chromium (Debian); browsers are never downloaded here (no `playwright install`).
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      // Measured on this machine: --enable-unsafe-webgpu alone yields the SwiftShader adapter headless (without it
      // requestAdapter() returns null); --no-sandbox because tests run as root. The rest keep the browser quiet and
      // offline (docs/environment.md). Vulkan/ANGLE switches were not needed.
      args: [
        '--no-sandbox',
        '--enable-unsafe-webgpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [{ name: 'chromium' }],
  webServer: {
    // The shader catalog is generated and not committed; rebuild it first, as vitest's global setup does. The
    // no-bundler build of @qgpu/worker (dist/) is rebuilt too, for the plain-ESM example spec.
    command: `pnpm --filter @qgpu/shaders build && pnpm --filter @qgpu/worker build && QGPU_E2E=1 pnpm --filter @qgpu/demo exec vite --port ${port} --strictPort`,
    cwd: '..',
    url: baseURL,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
