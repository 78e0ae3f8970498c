export * from './ops.ts';
export * from './llama.ts';
export * from './load.ts';
