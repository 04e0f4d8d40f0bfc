#!/usr/bin/env node
// `npm start` / `pnpm start` on a fresh clone: installs pnpm 10 and the dependencies when they are
// missing, then runs the main job.
import { execSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const PNPM = '10.34.9';

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { TURBO_TELEMETRY_DISABLED: '1', ...process.env } });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

let pnpmVersion = '';
try {
  pnpmVersion = execSync('pnpm --version', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  // not installed
}
if (!pnpmVersion.startsWith('10.')) {
  console.log(`Installing pnpm ${PNPM} (npm install -g)...`);
  run('npm', ['install', '-g', `pnpm@${PNPM}`]);
}
if (!existsSync(`${root}/node_modules/.modules.yaml`)) {
  console.log('Installing dependencies (pnpm install)...');
  run('pnpm', ['install', '--frozen-lockfile']);
}

// The main job: the runner (a simulated Dataverse org, the memory store, a cycle every interval,
// the HTTP API and the dashboard) unless a config or env names a real org. Node runs it directly so
// Ctrl+C reaches it without pnpm's noise.
run('pnpm', ['exec', 'turbo', 'run', 'build', '--filter=@crm-sync/runner', '--output-logs=errors-only']);
run('node', ['apps/runner/dist/cli.js', 'start', ...process.argv.slice(2)]);
