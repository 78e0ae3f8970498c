// Worker side of the engine: the module worker imports this and calls exposeEngine(). All GPU and model state
// stays in the worker; the main thread only holds a comlink proxy.
import * as Comlink from 'comlink';
import { createEngine, type Engine } from '@qgpu/runtime';
import { registerCallbackHandler } from './callbacks.ts';

/**
 * Exposes an engine (by default a fresh in-process engine using the worker's `navigator.gpu`) over comlink, on the
 * worker's global scope unless another endpoint (a MessagePort, in tests) is given.
 */
export function exposeEngine(engine: Engine = createEngine(), endpoint?: Comlink.Endpoint): void {
  registerCallbackHandler();
  Comlink.expose(engine, endpoint);
}
