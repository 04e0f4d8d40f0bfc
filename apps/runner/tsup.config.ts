import { defineConfig } from 'tsup';
import { baseTsupConfig } from '@crm-sync/tsup-config';

// An app, not a library: one executable entry, no declarations. Code splitting keeps each command's
// `import()` lazy, so `sync --once` does not load the HTTP server, the dashboard or the simulator.
export default defineConfig({ ...baseTsupConfig, entry: ['src/cli.ts'], dts: false, splitting: true });
