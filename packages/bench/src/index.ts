// Library side of the benchmarks (the CLI is kernels.ts): cases, timing and reporting, reusable by later benches.
export * from './cases.ts';
export * from './report.ts';
export * from './timing.ts';
export * from './weights.ts';
