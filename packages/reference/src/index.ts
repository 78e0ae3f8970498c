export * from './ops.ts';
export * from './llama.ts';
export * from './load.ts';
export * from './int8.ts';
export * from './lut.ts';
export * from './attention.ts';
export * from './rope.ts';
