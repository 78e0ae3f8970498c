export * from './tolerance.ts';
export * from './expect-close.ts';
export * from './random.ts';
export * from './fixtures.ts';
export * from './gpu.ts';
