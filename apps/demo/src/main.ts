// The demo page. The engine runs in a module worker (engine.worker.ts); this thread only renders. Model output is
// always inserted as text (textContent / Text nodes), never as HTML.
import { createWorkerEngine, streamGenerate, type LoadProgress, type ModelInfo, type ModelSource, type WorkerEngine } from '@qgpu/worker';

declare global {
  interface Window {
    /** Set when the engine worker is created, so tests can tell the engine does not run on this thread. */
    __qgpuWorker?: boolean;
  }
}

type Status = 'idle' | 'loading' | 'loaded' | 'generating' | 'done' | 'stopped' | 'error';

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

const ui = {
  modelList: byId<HTMLSelectElement>('model-list'),
  modelUrl: byId<HTMLInputElement>('model-url'),
  modelFile: byId<HTMLInputElement>('model-file'),
  load: byId<HTMLButtonElement>('load'),
  progress: byId<HTMLProgressElement>('load-progress'),
  progressLabel: byId('progress-label'),
  modelInfo: byId('model-info'),
  adapter: byId('adapter'),
  prompt: byId<HTMLTextAreaElement>('prompt'),
  maxTokens: byId<HTMLInputElement>('max-tokens'),
  temperature: byId<HTMLInputElement>('temperature'),
  seed: byId<HTMLInputElement>('seed'),
  generate: byId<HTMLButtonElement>('generate'),
  stop: byId<HTMLButtonElement>('stop'),
  error: byId('error'),
  output: byId('output'),
  stats: byId('stats'),
  ids: byId('generated-ids'),
};

function startWorker(): WorkerEngine {
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'qgpu-engine' });
  window.__qgpuWorker = true;
  return createWorkerEngine(worker);
}

let engine = startWorker();
/** What the worker has loaded; the same File object or URL string is not loaded twice. */
let loadedFrom: ModelSource | undefined;
/** Bumped by Stop so that the stopped task's late results and errors are ignored. */
let task = 0;

function setStatus(status: Status): void {
  document.body.dataset.status = status;
  const busy = status === 'loading' || status === 'generating';
  ui.load.disabled = busy;
  ui.generate.disabled = busy;
  ui.stop.disabled = !busy;
}

function showError(error: unknown): void {
  ui.error.textContent = error instanceof Error ? error.message : String(error);
  setStatus('error');
}

function selectedSource(): ModelSource {
  const file = ui.modelFile.files?.[0];
  if (file) return file;
  const url = ui.modelUrl.value.trim();
  if (!url) throw new Error('choose a model: a local model, a URL or a file');
  // Resolved here because the worker would resolve a relative URL against its own script URL.
  return new URL(url, location.href).href;
}

function showProgress(p: LoadProgress): void {
  if (p.totalBytes > 0) {
    ui.progress.max = p.totalBytes;
    ui.progress.value = p.loadedBytes;
  }
  const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
  ui.progressLabel.textContent = p.totalBytes > 0 ? `${p.phase}: ${mib(p.loadedBytes)} / ${mib(p.totalBytes)} MiB` : p.phase;
}

function describeModel(info: ModelInfo): string {
  return `${info.name} (${info.architecture}): dim ${info.dim}, ${info.nLayers} layers, ${info.nHeads}/${info.nKvHeads} heads, ` +
    `vocab ${info.vocabSize}, context ${info.contextLength}, ${(info.weightBytes / 2 ** 20).toFixed(2)} MiB of weights`;
}

async function load(source: ModelSource): Promise<void> {
  setStatus('loading');
  ui.error.textContent = '';
  ui.progress.value = 0;
  loadedFrom = undefined;
  ui.modelInfo.textContent = '';
  try {
    const info = await engine.load(source, { onProgress: showProgress });
    loadedFrom = source;
    ui.modelInfo.textContent = describeModel(info);
  } finally {
    // Also after a failed load: the adapter is known once the device exists, and helps explain GPU errors.
    await showAdapter();
  }
  setStatus('loaded');
}

async function showAdapter(): Promise<void> {
  const adapter = await engine.info().then((info) => info.adapter, () => null);
  const has = (feature: string): string => (adapter?.features.includes(feature) ? 'yes' : 'no');
  ui.adapter.textContent = adapter
    ? `WebGPU adapter: ${adapter.vendor} / ${adapter.architecture} ${adapter.device} ${adapter.description}; ` +
      `shader-f16 ${has('shader-f16')}, subgroups ${has('subgroups')}`
    : '';
}

async function generate(): Promise<void> {
  const source = selectedSource();
  if (source !== loadedFrom) await load(source);
  setStatus('generating');
  ui.error.textContent = '';
  ui.output.textContent = '';
  ui.ids.textContent = '';
  const stream = streamGenerate(engine, ui.prompt.value, {
    maxTokens: Number(ui.maxTokens.value),
    temperature: Number(ui.temperature.value),
    seed: Number(ui.seed.value),
  });
  const started = performance.now();
  let pieces = 0;
  for await (const piece of stream) {
    ui.output.append(piece);
    pieces++;
    ui.stats.textContent = `${pieces} pieces, ${((pieces * 1000) / (performance.now() - started)).toFixed(1)} pieces/s`;
  }
  const result = await stream.result;
  ui.output.textContent = result.text;
  ui.ids.textContent = JSON.stringify(result.generatedIds);
  const s = result.stats;
  ui.stats.textContent = `${s.promptTokens} prompt tokens in ${s.prefillMs.toFixed(0)} ms (${s.prefillTokensPerSecond.toFixed(1)} tok/s); ` +
    `${s.generatedTokens} generated, decode ${s.decodeTokensPerSecond.toFixed(1)} tok/s; stop: ${result.stopReason}`;
  setStatus(result.stopReason === 'aborted' ? 'stopped' : 'done');
}

/** Runs a UI action; errors land in #error unless Stop has superseded the action. */
function run(action: () => Promise<void>): void {
  const mine = ++task;
  action().catch((error: unknown) => { if (mine === task) showError(error); });
}

function stop(): void {
  if (document.body.dataset.status === 'generating') {
    // The engine finishes the current token and resolves generate() with stopReason 'aborted'; the model stays loaded.
    void engine.abort();
    return;
  }
  // Loading cannot be interrupted inside the engine yet, so Stop ends the worker; the next action starts a fresh one.
  task++;
  engine.terminate();
  engine = startWorker();
  loadedFrom = undefined;
  ui.progressLabel.textContent = 'stopped; the model will be loaded again when needed';
  setStatus('stopped');
}

async function listLocalModels(): Promise<void> {
  const res = await fetch('/models/index.json');
  if (!res.ok) return;
  const { models } = (await res.json()) as { models: { path: string; url: string; bytes: number }[] };
  if (models.length === 0) return;
  ui.modelList.replaceChildren(new Option('(choose a local model)', ''));
  for (const m of models) ui.modelList.add(new Option(`${m.path} (${(m.bytes / 1024).toFixed(0)} KiB)`, m.url));
}

function applyUrlParams(): boolean {
  const params = new URLSearchParams(location.search);
  const set = (input: HTMLInputElement | HTMLTextAreaElement, key: string): void => {
    const value = params.get(key);
    if (value !== null) input.value = value;
  };
  set(ui.modelUrl, 'model');
  set(ui.prompt, 'prompt');
  set(ui.maxTokens, 'maxTokens');
  set(ui.temperature, 'temperature');
  set(ui.seed, 'seed');
  return params.get('autorun') === '1';
}

ui.modelList.addEventListener('change', () => {
  if (ui.modelList.value) ui.modelUrl.value = ui.modelList.value;
  ui.modelFile.value = '';
});
ui.modelUrl.addEventListener('input', () => { ui.modelFile.value = ''; });
ui.load.addEventListener('click', () => run(async () => load(selectedSource())));
ui.generate.addEventListener('click', () => run(generate));
ui.stop.addEventListener('click', stop);

void listLocalModels().catch(() => {});
if (applyUrlParams()) run(generate);
