// The default worker script of `createEngine()`: an in-process engine exposed to the page that started it.
import { exposeEngine } from './host.ts';

exposeEngine();
