import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { storeConformance } from '@crm-sync/store-testkit';
import { afterAll, expect, it } from 'vitest';
import { createSqlStore, migrate, pgliteDriver } from '../src/embedded.js';

// One PGlite on a real data directory for the file (starting one takes seconds), a fresh schema per
// test, as the server suite does with one server. createEmbeddedStore itself (lock, directory,
// reopening) is tested in embedded-store.test.ts.
const dir = mkdtempSync(join(tmpdir(), 'crm-sync-embedded-conformance-'));
let db: Promise<PGlite> | null = null;
const open = () => (db ??= PGlite.create({ dataDir: `file://${join(dir, 'pgdata')}` }));
afterAll(async () => {
  if (db) await (await db).close();
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;

storeConformance('embedded (PGlite on a data directory)', async () => {
  const pglite = await open();
  const driver = pgliteDriver(pglite);
  const schema = `conformance_${++n}`;
  await migrate(driver, schema);
  return {
    store: createSqlStore(driver, { schema }),
    raw: {
      async readRecord(entity, id) {
        const { rows } = await pglite.query<{ id: string; crm_id: string | null; fields: Record<string, never>; revision: number }>(
          `select id, crm_id, fields, revision from "${schema}".records where entity = $1 and id = $2`, [entity, id]);
        const r = rows[0];
        return r ? { id: r.id, crmId: r.crm_id, fields: r.fields, revision: Number(r.revision) } : null;
      },
      async readCheckpoint(entity) {
        const { rows } = await pglite.query<{ checkpoint: string }>(`select checkpoint from "${schema}".checkpoints where entity = $1`, [entity]);
        return rows[0]?.checkpoint ?? null;
      },
      async countActivities() {
        const { rows } = await pglite.query<{ n: number }>(`select count(*)::int as n from "${schema}".activities`);
        return rows[0]?.n ?? 0;
      },
    },
    cleanup: async () => {
      await pglite.exec(`drop schema "${schema}" cascade`);
    },
  };
}, {
  // The kit checks the optional reads only on a store that has them: this one must.
  additionalTests: (ctx) =>
    it('offers the optional listState', () =>
      ctx.withStore(async (store) => {
        expect(typeof store.listState).toBe('function');
      })),
});
