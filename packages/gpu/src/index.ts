export * from './device.ts';
export * from './plan.ts';
export * from './tensor.ts';
export * from './counting-device.ts';
