export * from './engine-api.ts';
export { createEngine, LocalEngine, openSource, type EngineOptions } from './engine.ts';
export { llamaConfigFromGguf, type LlamaConfig } from './llama/config.ts';
export { LlamaModel, type LlamaModelOptions } from './llama/model.ts';
export { checkKernelPath } from './ops.ts';
export { ropeTableLlama } from './llama/workspace.ts';
export {
  applyRepetitionPenalty, DEFAULT_REPETITION_LAST_N, drawIndex, filteredDistribution, isGreedy, Sampler, samplingConfig,
  type Distribution, type SamplingConfig, type SamplingOptions,
} from './sampling.ts';
export { StopMatcher, type StopStep } from './stop.ts';
export { negativeLogLikelihood, perplexityOfTokens, type LogitsModel } from './perplexity.ts';
