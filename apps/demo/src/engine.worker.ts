import { exposeEngine } from '@qgpu/worker/host';

exposeEngine();
