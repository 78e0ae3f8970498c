// The demo page. The engine runs in a module worker (engine.worker.ts); this thread only renders. Model output is
// always inserted as text (textContent / Text nodes), never as HTML.
import {
  createWorkerEngine, streamGenerate, type ChatMessage, type GenerateStats, type LoadProgress, type ModelInfo, type ModelSource,
  type WorkerEngine,
} from '@qgpu/worker';
import { KNOWN_MODELS } from './known-models.ts';

declare global {
  interface Window {
    /** Set when the engine worker is created, so tests can tell the engine does not run on this thread. */
    __qgpuWorker?: boolean;
  }
}

type Status = 'idle' | 'loading' | 'loaded' | 'generating' | 'done' | 'stopped' | 'error';
type Mode = 'chat' | 'complete';

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

const ui = {
  modelList: byId<HTMLSelectElement>('model-list'),
  modelUrl: byId<HTMLInputElement>('model-url'),
  modelFile: byId<HTMLInputElement>('model-file'),
  dropZone: byId('drop-zone'),
  useCache: byId<HTMLInputElement>('use-cache'),
  sha256: byId<HTMLInputElement>('sha256'),
  load: byId<HTMLButtonElement>('load'),
  progress: byId<HTMLProgressElement>('load-progress'),
  progressLabel: byId('progress-label'),
  modelInfo: byId('model-info'),
  adapter: byId('adapter'),
  maxTokens: byId<HTMLInputElement>('max-tokens'),
  temperature: byId<HTMLInputElement>('temperature'),
  topK: byId<HTMLInputElement>('top-k'),
  topP: byId<HTMLInputElement>('top-p'),
  minP: byId<HTMLInputElement>('min-p'),
  repetitionPenalty: byId<HTMLInputElement>('repetition-penalty'),
  seed: byId<HTMLInputElement>('seed'),
  tabChat: byId<HTMLButtonElement>('tab-chat'),
  tabComplete: byId<HTMLButtonElement>('tab-complete'),
  chatPanel: byId('chat-panel'),
  completePanel: byId('complete-panel'),
  chatLog: byId('chat-log'),
  chatInput: byId<HTMLTextAreaElement>('chat-input'),
  send: byId<HTMLButtonElement>('send'),
  clearChat: byId<HTMLButtonElement>('clear-chat'),
  chatTemplate: byId('chat-template'),
  prompt: byId<HTMLTextAreaElement>('prompt'),
  generate: byId<HTMLButtonElement>('generate'),
  stop: byId<HTMLButtonElement>('stop'),
  error: byId('error'),
  output: byId('output'),
  stats: byId('stats'),
  ids: byId('generated-ids'),
};

interface ScriptUrlPolicy { createScriptURL(url: string): unknown }
interface TrustedTypesFactory { createPolicy(name: string, rules: { createScriptURL(url: string): string }): ScriptUrlPolicy }

/**
 * The demo's CSP requires Trusted Types (csp.ts), so a Worker's URL must come from a policy; this one admits only
 * same-origin script URLs. Where Trusted Types do not exist (other browsers) the URL is used as is.
 */
const workerUrls = (globalThis as { trustedTypes?: TrustedTypesFactory }).trustedTypes?.createPolicy('qgpu-worker-url', {
  createScriptURL(url) {
    const resolved = new URL(url, location.href);
    if (resolved.origin !== location.origin) throw new TypeError(`refusing a worker script from another origin: ${resolved.origin}`);
    return resolved.href;
  },
});

function startWorker(): WorkerEngine {
  const url = new URL('./engine.worker.ts', import.meta.url).href;
  const worker = new Worker((workerUrls?.createScriptURL(url) ?? url) as string, { type: 'module', name: 'qgpu-engine' });
  window.__qgpuWorker = true;
  return createWorkerEngine(worker);
}

let engine = startWorker();
/** What the worker has loaded; the same File object or URL string is not loaded twice. */
let loadedFrom: ModelSource | undefined;
/** A file dropped on the drop zone (takes precedence until another source is chosen). */
let droppedFile: File | undefined;
/** Bumped by Stop so that the stopped task's late results and errors are ignored. */
let task = 0;
/** The conversation so far (user and assistant turns). */
const conversation: ChatMessage[] = [];

function setStatus(status: Status): void {
  document.body.dataset.status = status;
  const busy = status === 'loading' || status === 'generating';
  ui.load.disabled = busy;
  ui.generate.disabled = busy;
  ui.send.disabled = busy;
  ui.stop.disabled = !busy;
}

function showError(error: unknown): void {
  const e = error instanceof Error ? error : new Error(String(error));
  const code = (e as { code?: unknown }).code;
  // The message is written for people; the code (QgpuError, FormatError) is shown for bug reports.
  ui.error.textContent = typeof code === 'string' ? `${e.message} [${e.name} ${code}]` : e.message;
  setStatus('error');
}

function selectedSource(): ModelSource {
  const file = droppedFile ?? ui.modelFile.files?.[0];
  if (file) return file;
  const url = ui.modelUrl.value.trim();
  if (!url) throw new Error('choose a model: a local model, a URL or a file');
  // Resolved here because the worker would resolve a relative URL against its own script URL.
  return new URL(url, location.href).href;
}

const mib = (n: number): string => (n / 2 ** 20).toFixed(1);

function showProgress(p: LoadProgress): void {
  if (p.totalBytes > 0) {
    ui.progress.max = p.totalBytes;
    ui.progress.value = p.loadedBytes;
  }
  let label: string = p.phase;
  if (p.phase === 'download' && p.fromCache) label = `download: ${mib(p.totalBytes)} MiB from the browser cache`;
  else if (p.phase === 'download') {
    const rate = p.bytesPerSecond ? ` at ${mib(p.bytesPerSecond)} MiB/s` : '';
    label = `download: ${mib(p.loadedBytes)}${p.totalBytes > 0 ? ` / ${mib(p.totalBytes)}` : ''} MiB${rate}`;
  } else if (p.totalBytes > 0) label = `${p.phase}: ${mib(p.loadedBytes)} / ${mib(p.totalBytes)} MiB${p.bytesPerSecond ? ` at ${mib(p.bytesPerSecond)} MiB/s` : ''}`;
  if (p.phase === 'ready' && lastDownload) label += ` (${lastDownload})`;
  if (p.phase === 'download') lastDownload = p.fromCache ? 'from the browser cache' : `downloaded at ${mib(p.bytesPerSecond ?? 0)} MiB/s`;
  ui.progressLabel.textContent = label;
}
let lastDownload = '';

function describeModel(info: ModelInfo): string {
  return `${info.name} (${info.architecture}): dim ${info.dim}, ${info.nLayers} layers, ${info.nHeads}/${info.nKvHeads} heads, ` +
    `vocab ${info.vocabSize}, context ${info.contextLength}, ${mib(info.weightBytes)} MiB of weights`;
}

async function load(source: ModelSource): Promise<void> {
  setStatus('loading');
  ui.error.textContent = '';
  ui.progress.value = 0;
  lastDownload = '';
  loadedFrom = undefined;
  ui.modelInfo.textContent = '';
  ui.chatTemplate.textContent = '';
  try {
    const sha256 = ui.sha256.value.trim();
    const info = await engine.load(source, { onProgress: showProgress, cache: ui.useCache.checked, ...(sha256 ? { sha256 } : {}) });
    loadedFrom = source;
    ui.modelInfo.textContent = describeModel(info);
    ui.chatTemplate.textContent = info.chatTemplate
      ? 'Chat uses the model\'s own chat template.'
      : 'This model has no chat template: chat uses the plain "User:/Assistant:" fallback.';
  } finally {
    // Also after a failed load: the adapter is known once the device exists, and helps explain GPU errors.
    await showAdapter();
  }
  setStatus('loaded');
}

async function showAdapter(): Promise<void> {
  const info = await engine.info().catch(() => null);
  const adapter = info?.adapter;
  const has = (feature: string): string => (adapter?.features.includes(feature) ? 'yes' : 'no');
  const memory = info?.memory
    ? `; GPU memory: weights ${mib(info.memory.weightBytes)} MiB, KV cache ${mib(info.memory.kvCacheBytes)} MiB, workspace ${mib(info.memory.workspaceBytes)} MiB`
    : '';
  ui.adapter.textContent = adapter
    ? `WebGPU adapter: ${adapter.vendor} / ${adapter.architecture} ${adapter.device} ${adapter.description}; ` +
      `shader-f16 ${has('shader-f16')}, subgroups ${has('subgroups')}${memory}`
    : '';
}

function numberOf(input: HTMLInputElement): number {
  return Number(input.value);
}

function describeStats(s: GenerateStats, stopReason: string): string {
  return `${s.promptTokens} prompt tokens in ${s.prefillMs.toFixed(0)} ms (${s.prefillTokensPerSecond.toFixed(1)} tok/s, first token after ` +
    `${s.timeToFirstTokenMs.toFixed(0)} ms); ${s.generatedTokens} generated, decode ${s.decodeTokensPerSecond.toFixed(1)} tok/s; stop: ${stopReason}`;
}

async function ensureLoaded(): Promise<void> {
  const source = selectedSource();
  if (source !== loadedFrom) await load(source);
}

async function generate(): Promise<void> {
  await ensureLoaded();
  setStatus('generating');
  ui.error.textContent = '';
  ui.output.textContent = '';
  ui.ids.textContent = '';
  const stream = streamGenerate(engine, ui.prompt.value, {
    maxTokens: numberOf(ui.maxTokens),
    temperature: numberOf(ui.temperature),
    topK: numberOf(ui.topK),
    topP: numberOf(ui.topP),
    minP: numberOf(ui.minP),
    repetitionPenalty: numberOf(ui.repetitionPenalty),
    seed: numberOf(ui.seed),
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
  ui.stats.textContent = describeStats(result.stats, result.stopReason);
  setStatus(result.stopReason === 'aborted' ? 'stopped' : 'done');
}

function addMessage(role: string, text: string): HTMLElement {
  const el = document.createElement('div');
  el.className = `msg ${role}`;
  el.dataset.role = role;
  el.textContent = text;
  ui.chatLog.append(el);
  return el;
}

async function sendChat(): Promise<void> {
  const text = ui.chatInput.value.trim();
  if (!text) return;
  await ensureLoaded();
  setStatus('generating');
  ui.error.textContent = '';
  ui.ids.textContent = '';
  conversation.push({ role: 'user', content: text });
  addMessage('user', text);
  ui.chatInput.value = '';
  const reply = addMessage('assistant', '');
  const stream = await engine.chat.completions.create({
    messages: conversation,
    stream: true,
    max_tokens: numberOf(ui.maxTokens),
    temperature: numberOf(ui.temperature),
    top_k: numberOf(ui.topK),
    top_p: numberOf(ui.topP),
    min_p: numberOf(ui.minP),
    repetition_penalty: numberOf(ui.repetitionPenalty),
    seed: numberOf(ui.seed),
  });
  let finish = '';
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (choice?.delta.content) reply.append(choice.delta.content);
    if (choice?.finish_reason) finish = choice.finish_reason;
    if (chunk.usage && chunk.stats) ui.stats.textContent = describeStats(chunk.stats, finish);
  }
  const completion = await stream.completion;
  const content = completion.choices[0].message.content;
  reply.textContent = content;
  conversation.push({ role: 'assistant', content });
  setStatus(finish === 'abort' ? 'stopped' : 'done');
}

/** Runs a UI action; errors land in #error unless Stop has superseded the action. */
function run(action: () => Promise<void>): void {
  const mine = ++task;
  action().catch((error: unknown) => { if (mine === task) showError(error); });
}

function stop(): void {
  if (document.body.dataset.status === 'generating') {
    // The engine finishes the current token and ends the generation with stopReason 'aborted' (chat: finish_reason
    // 'abort'); the model stays loaded.
    void engine.abort();
    return;
  }
  // A load cannot be cancelled across the worker (an AbortSignal does not cross it), so Stop ends the worker; the
  // next action starts a fresh one.
  task++;
  engine.terminate();
  engine = startWorker();
  loadedFrom = undefined;
  ui.progressLabel.textContent = 'stopped; the model will be loaded again when needed';
  setStatus('stopped');
}

function setMode(mode: Mode): void {
  ui.chatPanel.hidden = mode !== 'chat';
  ui.completePanel.hidden = mode !== 'complete';
  ui.tabChat.setAttribute('aria-selected', String(mode === 'chat'));
  ui.tabComplete.setAttribute('aria-selected', String(mode === 'complete'));
  document.body.dataset.mode = mode;
}

interface ListedModel { readonly path: string; readonly url: string; readonly bytes: number }

/** Models the dev server exposes: the local `models/` folder first, then ../shared/models. */
async function listLocalModels(): Promise<void> {
  const groups: [string, string][] = [['models/ folder', '/local-models/index.json'], ['../shared/models', '/models/index.json']];
  const found: [string, ListedModel[]][] = [];
  for (const [label, url] of groups) {
    const res = await fetch(url).catch(() => undefined);
    if (!res?.ok) continue;
    const { models } = (await res.json()) as { models: ListedModel[] };
    if (models.length > 0) found.push([label, models]);
  }
  ui.modelList.replaceChildren(new Option(found.length > 0 ? '(choose a model)' : '(no local models found: pick a URL or a file)', ''));
  for (const [label, models] of found) {
    const group = document.createElement('optgroup');
    group.label = `Found locally: ${label}`;
    for (const m of models) group.append(new Option(`${m.path} (${(m.bytes / 1024).toFixed(0)} KiB)`, m.url));
    ui.modelList.append(group);
  }
  const known = document.createElement('optgroup');
  known.label = 'Known small GGUF models (need internet)';
  for (const m of KNOWN_MODELS) known.append(new Option(`${m.name} (${m.size})`, m.url));
  ui.modelList.append(known);
}

function applyUrlParams(): boolean {
  const params = new URLSearchParams(location.search);
  const set = (input: HTMLInputElement | HTMLTextAreaElement, key: string): void => {
    const value = params.get(key);
    if (value !== null) input.value = value;
  };
  set(ui.modelUrl, 'model');
  set(ui.prompt, 'prompt');
  set(ui.chatInput, 'message');
  set(ui.maxTokens, 'maxTokens');
  set(ui.temperature, 'temperature');
  set(ui.seed, 'seed');
  setMode(params.get('mode') === 'chat' ? 'chat' : 'complete');
  return params.get('autorun') === '1';
}

function chooseFile(file: File | undefined): void {
  droppedFile = file;
  ui.dropZone.textContent = file ? `dropped: ${file.name} (${mib(file.size)} MiB)` : '…or drop a .gguf file here';
}

ui.modelList.addEventListener('change', () => {
  if (ui.modelList.value) ui.modelUrl.value = ui.modelList.value;
  ui.modelFile.value = '';
  chooseFile(undefined);
});
ui.modelUrl.addEventListener('input', () => { ui.modelFile.value = ''; chooseFile(undefined); });
ui.modelFile.addEventListener('change', () => chooseFile(undefined));
ui.dropZone.addEventListener('dragover', (event) => { event.preventDefault(); ui.dropZone.classList.add('over'); });
ui.dropZone.addEventListener('dragleave', () => ui.dropZone.classList.remove('over'));
ui.dropZone.addEventListener('drop', (event) => {
  event.preventDefault();
  ui.dropZone.classList.remove('over');
  const file = event.dataTransfer?.files[0];
  if (file) { ui.modelFile.value = ''; chooseFile(file); }
});
ui.load.addEventListener('click', () => run(async () => load(selectedSource())));
ui.generate.addEventListener('click', () => run(generate));
ui.send.addEventListener('click', () => run(sendChat));
ui.chatInput.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); if (!ui.send.disabled) run(sendChat); }
});
ui.clearChat.addEventListener('click', () => { conversation.length = 0; ui.chatLog.replaceChildren(); });
ui.tabChat.addEventListener('click', () => setMode('chat'));
ui.tabComplete.addEventListener('click', () => setMode('complete'));
ui.stop.addEventListener('click', stop);

void listLocalModels().catch(() => {});
if (applyUrlParams()) run(document.body.dataset.mode === 'chat' ? sendChat : generate);
