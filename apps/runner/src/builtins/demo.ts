import type { RunnerConfigInput } from '../config/schema.js';

/**
 * What `crm-sync start` runs with no config file and no CRM in the environment: a seeded simulated
 * org in this process (one account above the 5,000-contact threshold of R7), a short interval so the
 * dashboard moves, and the simulator's custom table as a custom entity. No store section: the
 * default applies, the memory store, or PostgreSQL when a database URL is in the environment (so
 * `CRM_SYNC_DATABASE_URL=... crm-sync migrate` reaches that database).
 */
export function demoConfigInput(): Partial<RunnerConfigInput> {
  return {
    crm: { kind: 'simulator', seed: 1, contacts: 12_000, largeAccounts: [5_001] },
    sync: {
      intervalMs: 30_000,
      customEntities: [
        {
          name: 'new_membership',
          relationships: [{ field: 'new_contactid', targets: ['contact'] }],
        },
      ],
    },
  };
}
