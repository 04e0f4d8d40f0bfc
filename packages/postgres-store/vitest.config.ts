import { defineConfig } from 'vitest/config';
import { vitestConfig } from '@crm-sync/vitest-config';

// One throwaway PostgreSQL (or DATABASE_URL) for the whole run; tests get it with inject('databaseUrl').
export default defineConfig(vitestConfig({ globalSetup: ['@crm-sync/postgres-tooling/vitest-setup'] }));
