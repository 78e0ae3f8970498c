// Errors the engine raises on purpose, with a stable `code` a program can switch on. They cross the worker boundary
// with name, code and message intact (packages/worker/src/errors.ts), so a page can tell "out of storage" from
// "not a GGUF file" without parsing messages. Errors from lower layers keep their own classes and codes
// (FormatError from @qgpu/formats, NoGpuError from @qgpu/gpu) and cross the same way.

export type QgpuErrorCode =
  /** An argument or option is out of range or of the wrong type. */
  | 'invalid_argument'
  /** A call needs a loaded model and none is loaded. */
  | 'no_model'
  /** The model download failed (HTTP status, network error). */
  | 'network'
  /** The browser refused to store the model: storage quota exhausted. */
  | 'quota_exceeded'
  /** The downloaded or given bytes do not have the expected sha256. */
  | 'integrity'
  /** The operation was cancelled through its AbortSignal. */
  | 'aborted'
  /** The request asks for something this engine does not do (e.g. n > 1 choices). */
  | 'unsupported'
  /** A chat template failed to render (a template error or raise_exception). */
  | 'template'
  /** The model cannot fit this device: a buffer over maxBufferSize / maxStorageBufferBindingSize, or over the memory budget. */
  | 'gpu_limits'
  /** The GPU reported an out-of-memory or validation error while the model was being allocated; nothing stays allocated. */
  | 'gpu_allocation'
  /** The GPU device was lost (driver reset, device.destroy(), tab backgrounded); load() again to continue. */
  | 'device_lost';

export class QgpuError extends Error {
  override readonly name = 'QgpuError';
  constructor(readonly code: QgpuErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
