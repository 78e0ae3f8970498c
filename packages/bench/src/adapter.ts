import type { DeviceContext } from '@qgpu/gpu';

/** lavapipe or swiftshader from the adapter's own description, so `auto` still names its results file right. */
export function adapterName(ctx: DeviceContext): string {
  const info = ctx.adapterInfo;
  if (info.architecture === 'swiftshader' || /swiftshader/i.test(info.description)) return 'swiftshader';
  if (/llvmpipe/i.test(info.description) || /llvmpipe/i.test(info.device)) return 'lavapipe';
  return (info.vendor || 'unknown').replace(/[^a-z0-9]+/gi, '-').toLowerCase();
}
