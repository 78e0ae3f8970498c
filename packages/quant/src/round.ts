// Round half to even (torch.round, WGSL round): the rounding rule of the SINQ reference code. Kept here rather than
// imported from @qgpu/reference (a dev-only dependency of this package), since the quantizers also run in browsers.
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
