import { defineConfig } from 'vitest/config';
import { vitestConfig } from '@crm-sync/vitest-config';

// Process tests spawn the real runner; one PostgreSQL server (or DATABASE_URL) serves the whole run.
export default defineConfig(
  vitestConfig({ globalSetup: ['@crm-sync/postgres-tooling/vitest-setup'], testTimeout: 60_000, hookTimeout: 60_000 }),
);
