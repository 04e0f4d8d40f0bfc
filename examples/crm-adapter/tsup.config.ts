import { defineConfig } from 'tsup';
import { baseTsupConfig } from '@crm-sync/tsup-config';

export default defineConfig({ ...baseTsupConfig, entry: ['src/index.ts'] });
