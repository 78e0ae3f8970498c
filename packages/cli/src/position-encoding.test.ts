// --position-encoding flags → the load option, and the one-line errors for combinations that do not apply.
import { describe, expect, it } from 'vitest';
import { positionEncodingFromFlags } from './position-encoding.ts';

describe('positionEncodingFromFlags', () => {
  it('maps each encoding and its companions', () => {
    expect(positionEncodingFromFlags({})).toBeUndefined();
    expect(positionEncodingFromFlags({ 'position-encoding': 'rope' })).toEqual({ type: 'rope' });
    expect(positionEncodingFromFlags({ 'position-encoding': 'linear', 'linear-factor': '2.5' })).toEqual({ type: 'linear', factor: 2.5 });
    expect(positionEncodingFromFlags({ 'position-encoding': '3d-rpe', 'chunk-size': '256' })).toEqual({ type: '3d-rpe', chunkSize: 256, mode: 'eq4' });
    expect(positionEncodingFromFlags({ 'position-encoding': '3d-rpe', 'chunk-size': '128', interpolate: true }))
      .toEqual({ type: '3d-rpe', chunkSize: 128, mode: 'eq4', interpolate: true });
    expect(positionEncodingFromFlags({ 'position-encoding': '3d-rpe', 'chunk-size': '384', 'rope-mode': 'chunked', 'local-window': '0' }))
      .toEqual({ type: '3d-rpe', chunkSize: 384, mode: 'chunked', localWindow: 0 });
  });

  it.each([
    [{ 'position-encoding': 'alibi' }, /must be rope, linear or 3d-rpe/],
    [{ 'position-encoding': 'linear' }, /--linear-factor must be a positive number/],
    [{ 'position-encoding': '3d-rpe', 'chunk-size': '12.5' }, /--chunk-size must be a positive integer/],
    [{ 'position-encoding': '3d-rpe', 'chunk-size': '64', 'rope-mode': 'dca' }, /--rope-mode must be eq4 or chunked/],
    [{ 'position-encoding': '3d-rpe', 'chunk-size': '64', 'local-window': '8' }, /--local-window does not apply/],
    [{ 'position-encoding': '3d-rpe', 'chunk-size': '64', 'rope-mode': 'chunked', interpolate: true }, /--interpolate does not apply/],
    [{ 'position-encoding': '3d-rpe', 'chunk-size': '64', 'rope-mode': 'chunked', 'local-window': '-1' }, /--local-window must be a non-negative integer/],
    [{ 'chunk-size': '64' }, /--chunk-size does not apply to --position-encoding rope/],
    [{ 'position-encoding': 'linear', 'linear-factor': '2', 'chunk-size': '8' }, /--chunk-size does not apply/],
  ])('%j fails with %s', (flags, message) => {
    expect(() => positionEncodingFromFlags(flags)).toThrow(message);
  });
});
