import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs the CLI exactly as `pnpm qgpu …` does (tsx on main.ts), in a child process with its own Dawn instance. */
export function runCli(args: string[], env: Record<string, string> = {}): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', `${root}packages/cli/src/main.ts`, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 300_000,
  });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
