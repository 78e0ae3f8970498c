#!/usr/bin/env node
// `pnpm test`: every suite (CPU unit tests, GPU tests on lavapipe and SwiftShader, Playwright in headless Chromium),
// then one summary line over all of them, exactly `N passed, N failed, N skipped`. Exits non-zero if any suite
// failed or could not report (a runner that crashes before writing results counts as a failure).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = `${root}.vitest-results`;
rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });

const totals = { passed: 0, failed: 0, skipped: 0 };
const problems = [];

function run(label, command, args, cwd = root) {
  console.log(`\n=== ${label}: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd, stdio: 'inherit', env: process.env });
  return result.status ?? 1;
}

const vitestJson = `${resultsDir}/vitest.json`;
const vitestStatus = run('vitest (unit, gpu-lavapipe, gpu-swiftshader)', process.execPath, [
  `${root}node_modules/vitest/vitest.mjs`, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJson}`,
]);
if (existsSync(vitestJson)) {
  const r = JSON.parse(readFileSync(vitestJson, 'utf8'));
  totals.passed += r.numPassedTests;
  totals.failed += r.numFailedTests;
  totals.skipped += r.numPendingTests + r.numTodoTests;
  if (r.numFailedTestSuites > 0 && r.numFailedTests === 0) { totals.failed += r.numFailedTestSuites; problems.push('vitest: a test file failed to load'); }
}
if (vitestStatus !== 0) problems.push(`vitest exited with ${vitestStatus}`);
if (!existsSync(vitestJson)) { totals.failed += 1; problems.push('vitest wrote no results'); }

const playwrightJson = `${root}e2e/test-results/results.json`;
rmSync(playwrightJson, { force: true });
const playwrightStatus = run('playwright (headless Chromium)', process.execPath, [`${root}e2e/node_modules/@playwright/test/cli.js`, 'test'], `${root}e2e`);
if (existsSync(playwrightJson)) {
  const s = JSON.parse(readFileSync(playwrightJson, 'utf8')).stats;
  totals.passed += s.expected + s.flaky;
  totals.failed += s.unexpected;
  totals.skipped += s.skipped;
} else {
  totals.failed += 1;
  problems.push('playwright wrote no results');
}
if (playwrightStatus !== 0) problems.push(`playwright exited with ${playwrightStatus}`);

console.log('');
for (const p of problems) console.log(`problem: ${p}`);
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(problems.length > 0 || totals.failed > 0 ? 1 : 0);
