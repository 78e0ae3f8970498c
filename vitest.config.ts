import { defineConfig } from 'vitest/config';

// Three projects: CPU unit tests, and the GPU tests once per Vulkan driver that Dawn can use here.
// The driver is chosen by VK_ICD_FILENAMES, read by the Vulkan loader when Dawn creates its instance, so each GPU
// project sets it in its own worker processes (pool "forks": one process per test file, fresh Dawn instance).
const gpuProject = (adapter: 'lavapipe' | 'swiftshader') => ({
  extends: true as const,
  test: {
    name: `gpu-${adapter}`,
    include: ['packages/*/src/**/*.gpu.test.ts'],
    env: { QGPU_ADAPTER: adapter },
    pool: 'forks' as const,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});

export default defineConfig({
  test: {
    globalSetup: ['./scripts/vitest-global-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'shaders/test/**/*.test.ts'],
          exclude: ['**/*.gpu.test.ts', '**/node_modules/**'],
          testTimeout: 60_000,
        },
      },
      gpuProject('lavapipe'),
      gpuProject('swiftshader'),
    ],
  },
});
