// `pnpm --filter @qgpu/worker build`: the no-bundler ESM build. dist/qgpu.js is the page-side API (createEngine,
// createWorkerEngine, streamGenerate, QgpuError, …); the engine worker (runtime, kernels, tokenizer) is emitted
// beside it as its own module, which createEngine() starts with `new Worker(new URL(…, import.meta.url))`. Serve
// the dist/ folder as static files and `import { createEngine } from './qgpu/qgpu.js'` (docs/api.md).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Relative URLs, so the built files work from any folder they are served from.
  base: './',
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    lib: { entry: { qgpu: 'src/index.ts' }, formats: ['es'] },
    rollupOptions: { output: { entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js', assetFileNames: '[name]-[hash][extname]' } },
  },
});
