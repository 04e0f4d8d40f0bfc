import type { RunnerConfigInput } from './schema.js';

/**
 * What `crm-sync start` runs with no config file and no CRM in the environment: a seeded simulated
 * org in this process (one account above the 5,000-contact threshold of R7), the memory store, a
 * short interval so the dashboard moves, and the simulator's custom table as a custom entity.
 */
export function demoConfigInput(): RunnerConfigInput {
  return {
    crm: { kind: 'simulator', seed: 1, contacts: 12_000, largeAccounts: [5_001] },
    store: { kind: 'memory' },
    sync: {
      intervalMs: 30_000,
      customEntities: [
        {
          name: 'new_membership',
          entitySet: 'new_memberships',
          primaryKey: 'new_membershipid',
          relationships: [{ field: 'new_contactid', targets: ['contact'] }],
        },
      ],
    },
  };
}
