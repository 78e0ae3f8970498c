export * from './byte-source.ts';
export * from './f16.ts';
export * from './gguf.ts';
export * from './gguf-write.ts';
export * from './tensor-data.ts';
export * from './quant/index.ts';
export * from './lut/index.ts';
