// Quantizers (RTN, SINQ, pre-SINQ), whole-model conversion and CrossQuant calibration: methods.md §2, §3;
// formats, defaults and choices in docs/quantization.md.
export * from './groups.ts';
export * from './sinq.ts';
export * from './presinq.ts';
export * from './lut.ts';
export * from './gguf-meta.ts';
export * from './gguf-layout.ts';
export * from './model.ts';
export * from './crossquant.ts';
