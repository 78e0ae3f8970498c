/**
 * The only text ever added in front of a kernel: the activation storage type. Kernels declare activations as `act`
 * and accumulate in f32. `f16` needs the device feature `shader-f16`.
 */
export const PRELUDES = {
  f32: 'alias act = f32;\n',
  f16: 'enable f16;\nalias act = f16;\n',
} as const;

export type Prelude = keyof typeof PRELUDES;
