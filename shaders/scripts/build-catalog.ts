// Builds generated/catalog.ts (typed kernel descriptors) and test/catalog.json (the reviewed layout snapshot) from
// kernels/**/*.wgsl: expands `//! import "lib/x.wgsl"` lines, reflects every kernel under each activation prelude
// with wgsl_reflect, checks the house rules, and fails loudly (non-zero exit) on any violation.
import { readdirSync, readFileSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, relative, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { PRELUDES, shaderCode, type Prelude } from './preludes.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const IMPORT_LINE = /^\/\/! import "([^"]+)"\s*$/;

/** Expands import lines recursively; each library file is included once per kernel. */
function expandImports(path: string, seen: Set<string>): string {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((line) => {
      const match = IMPORT_LINE.exec(line);
      if (!match) return line;
      const target = join(root, match[1]!);
      if (seen.has(target)) return '';
      seen.add(target);
      return expandImports(target, seen);
    })
    .join('\n');
}

function listKernels(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return listKernels(path);
    return entry.endsWith('.wgsl') ? [path] : [];
  });
}

type BindingKind = 'uniform' | 'storage' | 'read-only-storage';
interface KernelDescriptor {
  name: string;
  file: string;
  source: string;
  overrides: Record<string, number>;
  params: { fields: Record<string, { offset: number; type: 'u32' | 'i32' | 'f32' }>; byteSize: number } | null;
  bindings: Record<string, { binding: number; kind: BindingKind }>;
  usesStep: boolean;
}

const errors: string[] = [];
const kernels: KernelDescriptor[] = [];
const names = new Set<string>();

for (const path of listKernels(join(root, 'kernels'))) {
  const file = relative(root, path);
  const name = basename(path, '.wgsl');
  const fail = (message: string) => errors.push(`${file}: ${message}`);
  if (names.has(name)) fail(`duplicate kernel name '${name}'`);
  names.add(name);
  const raw = readFileSync(path, 'utf8');
  if (!raw.startsWith(`// ${name} — `)) fail(`must open with the header comment '// ${name} — …'`);
  const source = expandImports(path, new Set());

  let reflected: WgslReflect | undefined;
  for (const preludeName of Object.keys(PRELUDES) as Prelude[]) {
    try {
      const r = new WgslReflect(shaderCode(preludeName, source));
      if (preludeName === 'f32') reflected = r;
    } catch (error) {
      fail(`does not parse with the ${preludeName} prelude: ${String(error)}`);
    }
  }
  if (!reflected) continue;

  const entries = reflected.entry.compute;
  if (entries.length !== 1 || entries[0]!.name !== 'main') fail('must have exactly one @compute entry point named main');

  const overrides: Record<string, number> = {};
  for (const o of reflected.overrides) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(o.name)) fail(`override '${o.name}' must be UPPER_SNAKE`);
    const declared = new RegExp(`override\\s+${o.name}\\s*:\\s*\\w+\\s*=\\s*([0-9.]+)[uif]?\\s*;`).exec(source);
    if (!declared) fail(`override '${o.name}' needs a numeric default`);
    else overrides[o.name] = Number(declared[1]);
  }

  const bindings: KernelDescriptor['bindings'] = {};
  let params: KernelDescriptor['params'] = null;
  let usesStep = false;
  for (const u of reflected.uniforms) {
    if (u.group === 1) {
      if (u.name !== 'step' || u.binding !== 0) fail(`group 1 holds only 'step' at binding 0, found '${u.name}'`);
      usesStep = true;
      continue;
    }
    if (u.name !== 'params' || u.binding !== 0) fail(`the only group-0 uniform is 'params' at binding 0, found '${u.name}' at ${u.binding}`);
    const fields: Record<string, { offset: number; type: 'u32' | 'i32' | 'f32' }> = {};
    for (const m of u.type.isStruct ? (u.type as unknown as { members: { name: string; offset: number; type: { name: string } }[] }).members : []) {
      const t = m.type.name;
      if (t !== 'u32' && t !== 'i32' && t !== 'f32') fail(`params.${m.name} must be a u32/i32/f32 scalar, is ${t}`);
      else fields[m.name] = { offset: m.offset, type: t };
    }
    params = { fields, byteSize: Math.ceil(u.type.size / 16) * 16 };
    bindings.params = { binding: 0, kind: 'uniform' };
  }
  for (const s of reflected.storage) {
    if (s.group !== 0) fail(`storage binding '${s.name}' must be in group 0`);
    if (s.binding === 0) fail(`binding 0 is reserved for params ('${s.name}')`);
    bindings[s.name] = { binding: s.binding, kind: s.access === 'read' ? 'read-only-storage' : 'storage' };
  }
  const numbers = Object.values(bindings).map((b) => b.binding);
  if (new Set(numbers).size !== numbers.length) fail('binding numbers collide');
  kernels.push({ name, file, source, overrides, params, bindings, usesStep });
}

if (errors.length > 0) {
  console.error(`shader catalog: ${errors.length} problem(s)\n  ${errors.join('\n  ')}`);
  process.exit(1);
}

const header = '// Generated by shaders/scripts/build-catalog.ts from kernels/**/*.wgsl. Do not edit.\n';
const body = kernels.map((k) => `export const ${k.name} = ${JSON.stringify(k, null, 2)} as const;\n`).join('\n');
const list = `export const allKernels = [${kernels.map((k) => k.name).join(', ')}] as const;\n`;
mkdirSync(join(root, 'generated'), { recursive: true });
writeFileSync(
  join(root, 'generated', 'catalog.ts'),
  `${header}export { PRELUDES, shaderCode, type Prelude } from '../scripts/preludes.ts';\nexport type * from '../scripts/kernel-types.ts';\n\n${body}\n${list}`,
);
const snapshot = Object.fromEntries(kernels.map(({ name, file, overrides, params, bindings, usesStep }) => [name, { file, overrides, params, bindings, usesStep }]));
mkdirSync(join(root, 'test'), { recursive: true });
writeFileSync(join(root, 'test', 'catalog.json'), `${JSON.stringify(snapshot, null, 2)}\n`);
console.log(`shader catalog: ${kernels.length} kernels`);
