export * from './engine-api.ts';
export { createEngine, LocalEngine, openSource, type EngineOptions } from './engine.ts';
export { llamaConfigFromGguf, type LlamaConfig } from './llama/config.ts';
export { LlamaModel, type LlamaModelOptions } from './llama/model.ts';
export { checkKernelPath } from './ops.ts';
export { ropeTableLlama } from './llama/workspace.ts';
export { sampleTemperature, seededRandom } from './sampling.ts';
