// copy_u32, the benchmarks' bandwidth roofline, must really copy: every vec4 of the range, and nothing past it, on a
// length that is not a multiple of the WG_SIZE·PER_THREAD vec4s one workgroup moves, and across a y-split dispatch.
import type { DeviceContext } from '@qgpu/gpu';
import * as kernels from '@qgpu/shaders';
import { readTensor, runKernel, testGpu, upload } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { splitWorkgroups } from './cases.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;

describe.skipIf(!gpu.ctx)(`copy_u32 on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  it.each([[1], [257], [4099]])('copies %i vec4s exactly and leaves the rest of dst alone', async (nVec4) => {
    const words = nVec4 * 4;
    const src = Uint32Array.from({ length: words + 8 }, (_, i) => (Math.imul(i + 1, 0x9e3779b1) >>> 0) | 1);
    const sentinel = new Uint32Array(words + 8).fill(0xdeadbeef);
    const dst = upload(ctx, 'dst', [words + 8], 'u32', sentinel);
    const { WG_SIZE, PER_THREAD } = kernels.copy_u32.overrides;
    // A tiny x limit forces the y split the kernel's indexing must undo.
    const workgroups = splitWorkgroups(Math.ceil(nVec4 / (WG_SIZE * PER_THREAD)), 3);
    await runKernel(ctx, 'f32', kernels.copy_u32, {
      params: { n_vec4: nVec4 },
      bindings: { src: upload(ctx, 'src', [words + 8], 'u32', src), dst },
      workgroups,
    });
    const got = new Uint32Array(await readTensor(ctx.device, dst));
    expect(got.subarray(0, words)).toEqual(src.subarray(0, words));
    expect(got.subarray(words)).toEqual(sentinel.subarray(words));
  });
});
