import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The shader catalog is generated from the .wgsl files; rebuild it before any test imports it. */
export default function setup(): void {
  const shadersDir = fileURLToPath(new URL('../shaders/', import.meta.url));
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-catalog.ts'], { cwd: shadersDir, stdio: 'inherit' });
}
