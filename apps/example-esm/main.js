// The smallest qgpu page: plain ES modules, no bundler, no framework. Serve this folder with `qgpu/` (a copy of
// packages/worker/dist) beside it, from https or localhost (WebGPU needs a secure context).
import { createEngine } from './qgpu/qgpu.js';

const status = document.getElementById('status');
const reply = document.getElementById('reply');
const params = new URLSearchParams(location.search);
const model = params.get('model') ?? 'https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf';

try {
  const engine = createEngine(); // starts the engine worker shipped beside qgpu.js
  const info = await engine.load(new URL(model, location.href).href, {
    onProgress: (p) => { status.textContent = `${p.phase} ${p.loadedBytes} / ${p.totalBytes} bytes`; },
  });
  status.textContent = `${info.name}: generating…`;
  const stream = await engine.chat.completions.create({
    messages: [{ role: 'user', content: params.get('message') ?? 'Once upon a time' }],
    stream: true,
    max_tokens: 32,
    temperature: 0,
  });
  for await (const chunk of stream) {
    reply.append(chunk.choices[0]?.delta.content ?? ''); // text, never HTML
    if (chunk.usage) status.textContent = `${chunk.usage.completion_tokens} tokens, ${chunk.stats.decodeTokensPerSecond.toFixed(1)} tok/s`;
  }
  document.body.dataset.status = 'done';
} catch (error) {
  status.textContent = `error: ${error.message}`;
  document.body.dataset.status = 'error';
}
