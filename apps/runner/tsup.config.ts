import { defineConfig } from 'tsup';
import { baseTsupConfig } from '@crm-sync/tsup-config';

// An app, not a library: one executable entry, no declarations.
export default defineConfig({ ...baseTsupConfig, entry: ['src/cli.ts'], dts: false });
