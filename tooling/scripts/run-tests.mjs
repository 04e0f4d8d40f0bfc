#!/usr/bin/env node
// `pnpm test`: runs every workspace package's tests through turbo, then adds up the vitest JSON
// reports (.test-report.json, written by @crm-sync/vitest-config) into one line: `N passed, N failed`.
// A package whose tests ran but left no report counts as one failure. Extra arguments go to turbo
// (e.g. `pnpm test --filter @crm-sync/core`).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const groups = ['packages', 'apps', 'tooling', 'examples'];

const packages = groups.flatMap((group) => {
  const dir = join(root, group);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'package.json')))
    .map((d) => {
      const path = join(dir, d.name);
      const pkg = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8'));
      return { name: pkg.name, path, hasTests: Boolean(pkg.scripts?.test) };
    })
    .filter((p) => p.hasTests);
});

for (const p of packages) rmSync(join(p.path, '.test-report.json'), { force: true });

const args = process.argv.slice(2);
const turbo = spawnSync('pnpm', ['exec', 'turbo', 'run', 'test', '--continue', ...args], {
  cwd: root,
  stdio: 'inherit',
  env: { TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', NX_DAEMON: 'false', NX_NO_CLOUD: 'true', ...process.env },
});

const filtered = args.some((a) => a.startsWith('--filter') || a.startsWith('-F'));
let passed = 0;
let failed = 0;
let skipped = 0;
const lines = [];
for (const p of packages) {
  const reportPath = join(p.path, '.test-report.json');
  if (!existsSync(reportPath)) {
    if (filtered) continue; // not selected by the filter
    failed += 1;
    lines.push(`${p.name}: no test report (the test task crashed or did not run)`);
    continue;
  }
  const report = JSON.parse(readFileSync(reportPath, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  // A suite that failed to load has no failed tests but did fail.
  const brokenSuites = report.testResults.filter((r) => r.status === 'failed' && r.assertionResults.length === 0).length;
  failed += brokenSuites;
  lines.push(
    `${p.name}: ${report.numPassedTests} passed, ${report.numFailedTests + brokenSuites} failed` +
      (report.numPendingTests ? `, ${report.numPendingTests} skipped` : ''),
  );
  // Name every failure in the summary: CI logs keep only the tail, and a count alone hides the cause.
  for (const file of report.testResults) {
    const rel = file.name.startsWith(p.path) ? file.name.slice(p.path.length + 1) : file.name;
    if (file.status === 'failed' && file.assertionResults.length === 0) {
      lines.push(`  FAILED ${rel}: ${firstLine(file.message)}`);
    }
    for (const t of file.assertionResults.filter((a) => a.status === 'failed')) {
      lines.push(`  FAILED ${rel} > ${t.fullName}: ${firstLine(t.failureMessages?.[0])}`);
    }
  }
}
if (turbo.status !== 0 && failed === 0) {
  failed += 1;
  lines.push(`turbo exited with ${turbo.status}`);
}

function firstLine(message) {
  const line = String(message ?? '').split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}

console.log('\nTest summary');
for (const line of lines) console.log(`  ${line}`);
writeFileSync(join(root, '.test-summary.json'), JSON.stringify({ passed, failed, skipped }) + '\n');
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
