// Errors crossing the worker boundary keep their type. Comlink's own handler sends only name, message and stack
// and rebuilds a plain Error; this one also sends `code` (QgpuError, FormatError) and rebuilds the class where the
// main thread knows it (QgpuError, RangeError, TypeError), else an Error with the original `name` and `code`, so
// callers can branch on `error.name` / `error.code` / `instanceof QgpuError` as they would in-process.
import * as Comlink from 'comlink';
import { QgpuError, type QgpuErrorCode } from '@qgpu/runtime/client';

interface WireError {
  readonly isError: true;
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly code: string | undefined;
}

type Wire = WireError | { readonly isError: false; readonly value: unknown };

/** Comlink marks thrown values with a private symbol; it is recognised by its description. */
function isThrown(value: unknown): value is { value: unknown } {
  return typeof value === 'object' && value !== null && Object.getOwnPropertySymbols(value).some((s) => s.description === 'Comlink.thrown');
}

/** Serialises an error for the wire (exported for tests). */
export function errorToWire(value: unknown): Wire {
  if (!(value instanceof Error)) return { isError: false, value };
  const code = (value as { code?: unknown }).code;
  return { isError: true, name: value.name, message: value.message, stack: value.stack, code: typeof code === 'string' ? code : undefined };
}

/** Rebuilds the error on the receiving side (exported for tests). */
export function errorFromWire(wire: WireError): Error {
  let error: Error;
  if (wire.name === 'QgpuError' && wire.code !== undefined) error = new QgpuError(wire.code as QgpuErrorCode, wire.message);
  else if (wire.name === 'RangeError') error = new RangeError(wire.message);
  else if (wire.name === 'TypeError') error = new TypeError(wire.message);
  else {
    error = new Error(wire.message);
    // An own property, so subclasses from the worker (FormatError, NoGpuError) keep their name here.
    Object.defineProperty(error, 'name', { value: wire.name, configurable: true, writable: true });
  }
  if (wire.code !== undefined && !(error instanceof QgpuError)) Object.assign(error, { code: wire.code });
  // The worker's stack says where it failed; kept after this side's own frames.
  if (wire.stack) error.stack = `${error.stack ?? ''}\n--- in the engine worker ---\n${wire.stack}`;
  return error;
}

const handler: Comlink.TransferHandler<{ value: unknown }, Wire> = {
  canHandle: (value: unknown): value is { value: unknown } => isThrown(value),
  serialize: ({ value }) => [errorToWire(value), []],
  deserialize(wire) {
    throw wire.isError ? errorFromWire(wire) : wire.value;
  },
};

/** Replaces comlink's 'throw' handler (idempotent; both sides must call it). */
export function registerErrorHandler(): void {
  if (Comlink.transferHandlers.get('throw') !== handler) Comlink.transferHandlers.set('throw', handler as Comlink.TransferHandler<unknown, unknown>);
}
