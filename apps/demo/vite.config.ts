import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import { cspHeaders } from './csp.ts';
import { modelsMiddleware } from './models-middleware.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
// The shared fixtures live beside the repository; QGPU_FIXTURES points elsewhere (CI caches, other checkouts).
const sharedDir = process.env.QGPU_FIXTURES ? resolve(process.env.QGPU_FIXTURES) : resolve(here, '../../../shared');
const modelsDir = resolve(sharedDir, 'models');
// Your own models: a `models/` folder at the repository root (git-ignored), or QGPU_MODELS_DIR.
const localModelsDir = process.env.QGPU_MODELS_DIR ? resolve(process.env.QGPU_MODELS_DIR) : resolve(here, '../../models');

// Registered in the hook itself (not in a returned function) so it runs before Vite's own static serving.
function serveModels(): Plugin {
  return {
    name: 'qgpu-models',
    configureServer(server) {
      server.middlewares.use(modelsMiddleware(localModelsDir, '/local-models/'));
      server.middlewares.use(modelsMiddleware(modelsDir));
    },
    configurePreviewServer(server) {
      server.middlewares.use(modelsMiddleware(localModelsDir, '/local-models/'));
      server.middlewares.use(modelsMiddleware(modelsDir));
    },
  };
}

export default defineConfig({
  root: here,
  // The CSP first, so its header is on every response (models and the worker script included).
  plugins: [cspHeaders(resolve(here, 'index.html'), resolve(here, 'dist/index.html')), serveModels()],
  // QGPU_E2E (set by the Playwright config): no hot reload, so an edit elsewhere in the tree never reloads a page
  // in the middle of a test.
  server: { port: Number(process.env.PORT ?? 5173), strictPort: true, ...(process.env.QGPU_E2E ? { hmr: false, watch: null } : {}) },
  preview: { port: Number(process.env.PORT ?? 4173), strictPort: true },
  // Pre-bundled at startup: discovering it on first page load makes Vite reload the page mid-run.
  optimizeDeps: { include: ['comlink', '@qgpu/worker > @qgpu/runtime > @huggingface/jinja'] },
  worker: { format: 'es' },
  build: { target: 'es2022' },
});
