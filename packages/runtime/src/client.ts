// What a page's main thread may import from the runtime: the chat API built on an engine's callbacks, the stream
// helper and the error class, with no GPU or model code (@qgpu/worker's index.ts uses only this and types).
export { chatApi, completionId, type ChatApi, type ChatCapable, type ChatCompletion, type ChatCompletionChunk, type ChatCompletionRequest, type ChatCompletionStream, type ChatCompletionUsage, type FinishReason } from './chat-api.ts';
export type { ChatMessage } from './chat-template.ts';
export { QgpuError, type QgpuErrorCode } from './errors.ts';
export { pieceStream, type PieceStream } from './stream.ts';
