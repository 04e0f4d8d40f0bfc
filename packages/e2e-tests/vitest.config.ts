import { defineConfig } from 'vitest/config';
import { vitestConfig } from '@crm-sync/vitest-config';

// One throwaway PostgreSQL (or DATABASE_URL) for the run: every scenario also runs on the PostgreSQL store.
export default defineConfig(vitestConfig({ globalSetup: ['@crm-sync/postgres-tooling/vitest-setup'], testTimeout: 60_000 }));
