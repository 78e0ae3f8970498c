/**
 * The only text ever added in front of a kernel: the activation storage type. Kernels declare activations as `act`
 * and accumulate in f32. `f16` needs the device feature `shader-f16`. A kernel's own `enable` directives (e.g.
 * `enable subgroups;` in the *_sg variants) must precede every declaration, so shaderCode moves them in front of
 * the prelude.
 */
export const PRELUDES = {
  f32: 'alias act = f32;\n',
  f16: 'enable f16;\nalias act = f16;\n',
} as const;

export type Prelude = keyof typeof PRELUDES;

/** A kernel line that is an `enable` directive (WGSL directives must come before any declaration). */
const ENABLE_LINE = /^enable\s+[A-Za-z0-9_,\s]+;\s*$/;

/** The WGSL module for `source` under the `act` prelude: the kernel's `enable` lines, then the prelude, then the rest. */
export function shaderCode(act: Prelude, source: string): string {
  const lines = source.split('\n');
  const enables = lines.filter((l) => ENABLE_LINE.test(l));
  const rest = lines.filter((l) => !ENABLE_LINE.test(l));
  return (enables.length > 0 ? `${enables.join('\n')}\n` : '') + PRELUDES[act] + rest.join('\n');
}
