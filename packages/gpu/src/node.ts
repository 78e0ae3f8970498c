// Dawn in Node (npm `webgpu`): picks the Vulkan driver through VK_ICD_FILENAMES before Dawn creates its instance.
// Kept out of the main entry so browser bundles never see `webgpu` or `node:fs`.
import { existsSync } from 'node:fs';
import { create, globals } from 'webgpu';

export type NodeAdapterName = 'lavapipe' | 'swiftshader' | 'auto';

/** Vulkan ICD manifests on Debian (see docs/environment.md): Mesa lavapipe and Chromium's SwiftShader. */
export const VULKAN_ICDS: Readonly<Record<Exclude<NodeAdapterName, 'auto'>, string>> = {
  lavapipe: '/usr/share/vulkan/icd.d/lvp_icd.json',
  swiftshader: '/usr/lib/chromium/vk_swiftshader_icd.json',
};

let created: { gpu: GPU; adapter: NodeAdapterName } | undefined;

/**
 * Returns Dawn's `GPU` for the named driver. 'auto' keeps an ICD the environment already chose, else prefers
 * lavapipe (it has shader-f16), else SwiftShader. One driver per process: the Vulkan loader reads the variable once.
 */
export function nodeGpu(adapter: NodeAdapterName = (process.env.QGPU_ADAPTER as NodeAdapterName | undefined) ?? 'auto'): GPU {
  if (created) {
    if (adapter !== 'auto' && created.adapter !== adapter) {
      throw new Error(`this process already uses the ${created.adapter} driver; start a new process for ${adapter}`);
    }
    return created.gpu;
  }
  if (adapter !== 'lavapipe' && adapter !== 'swiftshader' && adapter !== 'auto') {
    throw new Error(`unknown adapter '${String(adapter)}' (expected lavapipe, swiftshader or auto)`);
  }
  if (adapter === 'auto') {
    if (!process.env.VK_ICD_FILENAMES) {
      const found = (['lavapipe', 'swiftshader'] as const).find((name) => existsSync(VULKAN_ICDS[name]));
      if (found) process.env.VK_ICD_FILENAMES = VULKAN_ICDS[found];
    }
  } else {
    const icd = VULKAN_ICDS[adapter];
    if (!existsSync(icd)) throw new Error(`${adapter} is not installed (missing ${icd}); run scripts/setup-system.sh`);
    process.env.VK_ICD_FILENAMES = icd;
  }
  Object.assign(globalThis, globals);
  const gpu = create([]);
  created = { gpu, adapter };
  return gpu;
}
