export * from './engine-api.ts';
export * from './client.ts';
export {
  deleteCachedModel, fetchModelBlob, listCachedModels, MODEL_CACHE_NAME, prepareModelSource, sha256Hex, type DownloadProgress, type FetchModelOptions,
} from './cache.ts';
export { chatPromptIds, generateOptionsOf, runChatCompletion, type ChatBackend } from './chat.ts';
export {
  chatFormatFromGguf, chatTemplateFromTokenizerConfig, FALLBACK_CHAT_TEMPLATE, FALLBACK_STOP, renderChat, splitSpecialTokens,
  type ChatFormat, type RenderOptions,
} from './chat-template.ts';
export { createEngine, LocalEngine, openSource, type EngineOptions } from './engine.ts';
export { llamaConfigFromGguf, type LlamaConfig } from './llama/config.ts';
export { LlamaModel, type LlamaModelOptions } from './llama/model.ts';
export { layerLinears, type LayerWeights } from './llama/load.ts';
export { weightTensors, type Weight } from './llama/weight.ts';
export { checkKernelPath, checkKvCacheType, type KvCacheType } from './ops.ts';
export { checkContextOverflow, type ContextOverflow } from './llama/context.ts';
export { negativeLogLikelihood, perplexityOfTokens, type LogitsModel } from './perplexity.ts';
export {
  positionTables, ropeConfigFromGguf, ropeFrequencies, ropeTable, type PositionEncoding, type RopeConfig, type RopeScaling, type RopeStyle,
} from './llama/rope.ts';
export {
  applyRepetitionPenalty, DEFAULT_REPETITION_LAST_N, drawFromSoftmax, drawIndex, filteredDistribution, isGreedy, kthLargest, Sampler, samplingConfig,
  type Distribution, type SamplingConfig, type SamplingOptions,
} from './sampling.ts';
export { StopMatcher, type StopStep } from './stop.ts';
export { ggufNameOfHf, llamaMetadataFromHfConfig, openHfLlama, permuteGgufToHf, permuteHfToGguf, type HfLlamaFiles, type HfQuantizeOptions } from './llama/hf.ts';
export { hfCheckpointFromGguf, randomHfLlama, type HfCheckpoint, type RandomHfLlamaShape } from './llama/hf-convert.ts';
export { isHfModelSource, isHfSource, openHfModel, type LocalHfModelSource } from './llama/hf-source.ts';
