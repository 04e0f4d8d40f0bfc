import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CrmAdapter, CrmField, FieldMap, LookupValue, StoreCapabilities, SyncStore } from '@crm-sync/core';
import { createMemoryStore } from '@crm-sync/memory-store';
import { createPostgresStore, migrate } from '@crm-sync/postgres-store';
import { createSqlStore, migrate as migrateEmbedded, pgliteDriver } from '@crm-sync/postgres-store/embedded';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { createMemoryCrm as createFakeCrm, field } from '@crm-sync-examples/memory-crm';

/** The CRM side of a scenario: the adapter the engine uses, and a hand on the CRM's data. */
export interface CrmHarness {
  adapter: CrmAdapter;
  /** Creates or updates a row as a salesperson (not the sync user). */
  put(entity: string, id: string, fields: FieldMap, lookups?: Record<string, LookupValue | null>): Promise<void>;
  remove(entity: string, id: string): Promise<void>;
  /** The row's current values, or null when it does not exist. */
  get(entity: string, id: string): Promise<FieldMap | null>;
  /** Adds a readable, updatable text column. */
  addColumn(entity: string, name: string): Promise<void>;
  /** Turns field security on for a column, without read or update privilege for the sync user. */
  secureColumn(entity: string, name: string): Promise<void>;
  /** The next pull of this row arrives damaged (a bad response), once. */
  damageNextPull(entity: string, id: string): Promise<void>;
  /** Expires delta tokens and forgets deletes, so only a full read can find them. */
  expireTokensAndForgetDeletes(): Promise<void>;
  close(): Promise<void>;
}

export interface Harness {
  name: string;
  crm(): Promise<CrmHarness>;
  store(): Promise<SyncStore>;
}

/** Columns of the scenario tables (a small Dataverse-like org). */
export const scenarioColumns: Record<string, CrmField[]> = {
  systemuser: [field('fullname', { canUpdate: false })],
  team: [field('name', { canUpdate: false })],
  account: [field('name'), field('address1_city'), field('telephone1'), field('websiteurl'), field('new_synctomkto', { type: 'Boolean', valueKind: 'boolean', custom: true })],
  contact: [
    field('firstname'), field('lastname'), field('emailaddress1'), field('jobtitle'), field('telephone1'),
    field('fullname', { canUpdate: false, reason: 'not valid for update' }),
    field('parentcustomerid', { type: 'Customer', valueKind: 'lookup', lookupTargets: ['account', 'contact'] }),
    field('new_synctomkto', { type: 'Boolean', valueKind: 'boolean', custom: true }),
    field('new_creditlimit', { type: 'Money', valueKind: 'number', custom: true, secured: true, canRead: false, canUpdate: false, reason: 'secured column: no read privilege' }),
  ],
  lead: [
    field('firstname'), field('lastname'), field('emailaddress1'), field('companyname'), field('subject'), field('telephone1'),
    field('new_synctomkto', { type: 'Boolean', valueKind: 'boolean', custom: true }),
  ],
  opportunity: [field('name'), field('customerid', { type: 'Customer', valueKind: 'lookup', lookupTargets: ['account', 'contact'] })],
  new_membership: [field('new_name', { custom: true })],
};

export const customEntities = [{ name: 'new_membership' }];

async function fakeCrm(): Promise<CrmHarness> {
    const crm = createFakeCrm();
    crm.pageSize = 50;
    for (const [entity, columns] of Object.entries(scenarioColumns)) crm.defineTable(entity, columns.map((c) => ({ ...c })));
    return {
      adapter: crm,
      async put(entity, id, fields, lookups) {
        crm.put(entity, id, fields, lookups ? { lookups } : {});
      },
      async remove(entity, id) {
        crm.remove(entity, id);
      },
      async get(entity, id) {
        const row = crm.row(entity, id);
        return row ? { ...row.fields } : null;
      },
      async addColumn(entity, name) {
        crm.addField(entity, field(name, { custom: true }));
      },
      async secureColumn(entity, name) {
        crm.secureField(entity, name);
      },
      async damageNextPull(_entity, id) {
        crm.damageOnce.add(id);
      },
      async expireTokensAndForgetDeletes() {
        crm.expireCheckpoints();
        crm.forgetDeletes();
      },
      async close() {},
    };
}

/** The in-process fake CRM with the memory store. */
export const fakeCrmWithMemoryStore: Harness = {
  name: 'fake CRM + memory store',
  crm: fakeCrm,
  async store() {
    return createMemoryStore();
  },
};

let schemas = 0;
/** The in-process fake CRM with the PostgreSQL store, a fresh schema per world. */
export function fakeCrmWithPostgresStore(databaseUrl: string): Harness {
  return {
    name: 'fake CRM + postgres store',
    crm: fakeCrm,
    async store() {
      const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
      const schema = `e2e_${process.pid}_${++schemas}`;
      await migrate(pool, schema);
      const store = createPostgresStore({ pool, schema });
      return {
        ...store,
        async close() {
          await store.close();
          await pool.query(`drop schema "${schema}" cascade`).catch(() => undefined);
          await pool.end();
        },
      };
    },
  };
}

let pglite: Promise<PGlite> | null = null;
/** One PGlite on a data directory for the test process (starting one takes seconds), closed at exit. */
function sharedPglite(): Promise<PGlite> {
  if (!pglite) {
    const dir = mkdtempSync(join(tmpdir(), 'crm-sync-e2e-embedded-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    pglite = PGlite.create({ dataDir: `file://${join(dir, 'pgdata')}` });
  }
  return pglite;
}

/**
 * The in-process fake CRM with the embedded store (PGlite): the embedded store's driver and SQL, a
 * fresh schema per world in one PGlite per process. Opening a data directory (the lock, restarts)
 * is what test/crash.test.ts and the package's own tests cover.
 */
export const fakeCrmWithEmbeddedStore: Harness = {
  name: 'fake CRM + embedded store',
  crm: fakeCrm,
  async store() {
    const db = await sharedPglite();
    const driver = pgliteDriver(db);
    const schema = `e2e_${++schemas}`;
    await migrateEmbedded(driver, schema);
    const store = createSqlStore(driver, { schema });
    return {
      ...store,
      async close() {
        await store.close();
        await driver.exec(`drop schema "${schema}" cascade`).catch(() => undefined);
      },
    };
  },
};

/** Skips the running test, saying why, when the store lacks a capability the test needs. */
export function requireCapability(ctx: { skip(note?: string): never }, store: SyncStore, capability: keyof StoreCapabilities): void {
  if (!store.capabilities[capability]) ctx.skip(`the ${store.name} store has no ${capability} (capabilities.${capability} is false)`);
}
