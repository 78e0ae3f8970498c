// Lets plain functions cross the worker boundary, both as direct arguments (`generate(prompt, opts, onText)`) and
// inside options bags (`load(source, { onProgress })`). Comlink only applies transfer handlers to top-level
// arguments and structured clone rejects functions, so without this every caller would need `Comlink.proxy` and
// callbacks nested in options could not cross at all. Both sides must register it (host.ts and index.ts do).
// Functions already wrapped with Comlink.proxy are still handled by comlink itself when passed directly, because
// its own handler is registered first.
import * as Comlink from 'comlink';
import { registerErrorHandler } from './errors.ts';

type Callback = (...args: unknown[]) => unknown;

type Wire =
  | { readonly kind: 'function'; readonly port: MessagePort }
  | { readonly kind: 'object'; readonly values: Record<string, unknown>; readonly ports: Record<string, MessagePort> };

const HANDLER_NAME = 'qgpu-callbacks';

function isCallback(value: unknown): value is Callback {
  return typeof value === 'function';
}

function isOptionsWithCallbacks(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && Object.values(value).some(isCallback);
}

// Exposed on a fresh channel rather than through Comlink.proxy, which would mark the caller's function object and
// so change how the same function is handled the next time it is passed.
function callbackToPort(fn: Callback): MessagePort {
  const { port1, port2 } = new MessageChannel();
  Comlink.expose(fn, port1);
  return port2;
}

function callbackFromPort(port: MessagePort): Callback {
  port.start();
  const remote = Comlink.wrap<Callback>(port);
  // The engine never awaits its callbacks, so calls are fire-and-forget; a failure on the other side (a throwing
  // UI handler, a closed page) is logged here instead of becoming an unhandled rejection that stops generation.
  return (...args: unknown[]) => {
    Promise.resolve(remote(...args)).catch((error: unknown) => console.error('qgpu: callback failed', error));
  };
}

const handler: Comlink.TransferHandler<Callback | Record<string, unknown>, Wire> = {
  canHandle: (value: unknown): value is Callback | Record<string, unknown> => isCallback(value) || isOptionsWithCallbacks(value),
  serialize(value) {
    if (isCallback(value)) {
      const port = callbackToPort(value);
      return [{ kind: 'function', port }, [port]];
    }
    const values: Record<string, unknown> = {};
    const ports: Record<string, MessagePort> = {};
    for (const [key, v] of Object.entries(value)) {
      if (isCallback(v)) ports[key] = callbackToPort(v);
      else values[key] = v;
    }
    return [{ kind: 'object', values, ports }, Object.values(ports)];
  },
  deserialize(wire) {
    if (wire.kind === 'function') return callbackFromPort(wire.port);
    const out: Record<string, unknown> = { ...wire.values };
    for (const [key, port] of Object.entries(wire.ports)) out[key] = callbackFromPort(port);
    return out;
  },
};

/** Registers the callback transfer handler, and the typed-error handler (errors.ts), with comlink (idempotent). */
export function registerCallbackHandler(): void {
  registerErrorHandler();
  if (!Comlink.transferHandlers.has(HANDLER_NAME)) {
    Comlink.transferHandlers.set(HANDLER_NAME, handler as Comlink.TransferHandler<unknown, unknown>);
  }
}
