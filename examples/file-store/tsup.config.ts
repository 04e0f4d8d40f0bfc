import { defineConfig } from 'tsup';
import { baseTsupConfig } from '@crm-sync/tsup-config';

// @crm-sync/core and zod stay imports (dependencies are external): the runner's copy of core is the one used.
export default defineConfig({ ...baseTsupConfig, entry: ['src/index.ts'] });
