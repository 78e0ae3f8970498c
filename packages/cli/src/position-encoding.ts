// --position-encoding and its companions → the positionEncoding load option (docs/position-encoding.md). Parsed
// before any device is touched, so a bad combination fails fast with one line naming the flag.
import type { PositionEncoding } from '@qgpu/runtime';

export interface PositionEncodingFlags {
  readonly 'position-encoding'?: string | undefined;
  readonly 'chunk-size'?: string | undefined;
  readonly 'rope-mode'?: string | undefined;
  readonly 'linear-factor'?: string | undefined;
  readonly 'local-window'?: string | undefined;
  readonly interpolate?: boolean | undefined;
}

export const POSITION_ENCODING_USAGE = `position encodings (--position-encoding, every command that loads a model):
  rope (default: the model's own RoPE) | linear --linear-factor F | 3d-rpe --chunk-size C [--rope-mode eq4|chunked]
  [--interpolate] (eq4: Theorem 1's chunk size) [--local-window W] (chunked: chunk_len = C − W, default trained context / 16)`;

function positiveNumber(flag: string, value: string | undefined, integer: boolean): number {
  const n = Number(value);
  if (value === undefined || value.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`--${flag} must be a positive ${integer ? 'integer' : 'number'}, got '${value ?? ''}'`);
  }
  return n;
}

/** The positionEncoding the flags ask for, undefined when none is given; throws an Error naming the bad flag. */
export function positionEncodingFromFlags(flags: PositionEncodingFlags): PositionEncoding | undefined {
  const type = flags['position-encoding'];
  const only = (allowed: readonly (keyof PositionEncodingFlags)[]) => {
    const stray = (['chunk-size', 'rope-mode', 'linear-factor', 'local-window', 'interpolate'] as const)
      .filter((f) => flags[f] !== undefined && flags[f] !== false && !allowed.includes(f));
    if (stray.length > 0) throw new Error(`--${stray[0]} does not apply to --position-encoding ${type ?? 'rope'}`);
  };
  switch (type) {
    case undefined:
    case 'rope':
      only([]);
      return type === undefined ? undefined : { type: 'rope' };
    case 'linear':
      only(['linear-factor']);
      return { type: 'linear', factor: positiveNumber('linear-factor', flags['linear-factor'], false) };
    case '3d-rpe': {
      const mode = flags['rope-mode'] ?? 'eq4';
      if (mode !== 'eq4' && mode !== 'chunked') throw new Error(`--rope-mode must be eq4 or chunked, got '${mode}'`);
      only(mode === 'eq4' ? ['chunk-size', 'rope-mode', 'interpolate'] : ['chunk-size', 'rope-mode', 'local-window']);
      const chunkSize = positiveNumber('chunk-size', flags['chunk-size'], true);
      if (mode === 'eq4') return { type: '3d-rpe', chunkSize, mode, ...(flags.interpolate ? { interpolate: true } : {}) };
      const window = flags['local-window'];
      // 0 is a valid window (chunk_len = chunk size), so it is parsed apart from the positive flags.
      const localWindow = window === undefined ? undefined : Number(window);
      if (localWindow !== undefined && (!Number.isInteger(localWindow) || localWindow < 0 || window!.trim() === '')) {
        throw new Error(`--local-window must be a non-negative integer, got '${window}'`);
      }
      return { type: '3d-rpe', chunkSize, mode, ...(localWindow !== undefined ? { localWindow } : {}) };
    }
    default:
      throw new Error(`--position-encoding must be rope, linear or 3d-rpe, got '${type}'`);
  }
}
