import * as z from 'zod';
import { defineCrmPlugin } from '@crm-sync/core';
import { createMemoryCrm, field } from './memory-crm.js';

const options = z.strictObject({
  /** Accounts to seed, each with `contactsPerAccount` contacts. */
  accounts: z.number().int().min(0).max(10_000).default(3),
  contactsPerAccount: z.number().int().min(0).max(1_000).default(4),
  leads: z.number().int().min(0).max(10_000).default(5),
  /** Rows per page the adapter hands out. */
  pageSize: z.number().int().min(1).max(5_000).default(100),
});

const lookup = (name: string, targets: string[]) => field(name, { type: 'Lookup', valueKind: 'lookup', lookupTargets: targets });

/** The tables a runner syncs (the built-in entities), with a few columns each. */
const TABLES = {
  systemuser: [field('fullname', { canUpdate: false })],
  team: [field('name', { canUpdate: false })],
  account: [field('name'), field('address1_city'), field('telephone1')],
  contact: [field('firstname'), field('lastname'), field('emailaddress1'), field('jobtitle'), lookup('parentcustomerid', ['account', 'contact'])],
  lead: [field('firstname'), field('lastname'), field('emailaddress1'), field('subject')],
  opportunity: [field('name'), lookup('customerid', ['account', 'contact'])],
};

/**
 * The example CRM as a runner plugin: `{ "plugins": ["<path to this package>"], "crm": { "kind":
 * "memory-crm", "accounts": 3 } }`. A CRM held in the runner's process and seeded at each start, so
 * it shows the plugin API rather than keeping data: each run starts from the same seeded rows.
 */
export const memoryCrmPlugin = defineCrmPlugin({
  type: 'crm',
  name: 'memory-crm',
  description: 'the example CRM held in memory, seeded at each start',
  options,
  describe: (cfg) => `memory-crm (${cfg.accounts} accounts, ${cfg.accounts * cfg.contactsPerAccount} contacts, ${cfg.leads} leads)`,
  async connect(cfg) {
    const crm = createMemoryCrm({ pageSize: cfg.pageSize });
    for (const [entity, columns] of Object.entries(TABLES)) crm.defineTable(entity, columns.map((c) => ({ ...c })));
    for (let a = 0; a < cfg.accounts; a += 1) {
      const account = crypto.randomUUID();
      crm.put('account', account, { name: `Account ${a + 1}`, address1_city: 'Oslo' });
      for (let c = 0; c < cfg.contactsPerAccount; c += 1) {
        crm.put('contact', crypto.randomUUID(), { firstname: `Contact ${c + 1}`, lastname: `of account ${a + 1}` }, {
          lookups: { parentcustomerid: { id: account, entity: 'account' } },
        });
      }
    }
    for (let l = 0; l < cfg.leads; l += 1) crm.put('lead', crypto.randomUUID(), { firstname: `Lead ${l + 1}`, subject: 'Interested' });
    return { adapter: crm, url: 'memory://example', total: (entity) => crm.ids(entity).length, close: async () => {} };
  },
});
