#!/usr/bin/env node
// The `crm-sync` bin. It lives in the source tree (not in dist/) so that `pnpm install` on a fresh
// clone can link it before anything is built; it runs the built CLI.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('crm-sync is not built yet: run `pnpm --filter @crm-sync/runner build` first.');
  process.exit(1);
}
await import(cli.href);
