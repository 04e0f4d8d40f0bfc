import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import { storeConformance } from '@crm-sync/store-testkit';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { createPostgresStore, migrate } from '../src/index.js';

const pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 10 });
afterAll(() => pool.end());
let n = 0;

storeConformance('postgres', async () => {
  // A fresh schema per test: no shared state between tests.
  const schema = `conformance_${process.pid}_${++n}`;
  await migrate(pool, schema);
  return {
    store: createPostgresStore({ pool, schema }),
    raw: {
      async readRecord(entity, id) {
        const { rows } = await pool.query(`select id, crm_id, fields, revision from "${schema}".records where entity = $1 and id = $2`, [entity, id]);
        const r = rows[0];
        return r ? { id: r.id, crmId: r.crm_id, fields: r.fields, revision: Number(r.revision) } : null;
      },
      async readCheckpoint(entity) {
        const { rows } = await pool.query(`select checkpoint from "${schema}".checkpoints where entity = $1`, [entity]);
        return rows[0]?.checkpoint ?? null;
      },
      async countActivities() {
        const { rows } = await pool.query(`select count(*)::int as n from "${schema}".activities`);
        return rows[0].n;
      },
    },
    cleanup: async () => {
      await pool.query(`drop schema "${schema}" cascade`);
    },
  };
}, {
  // The kit checks the optional reads only on a store that has them: this one must.
  additionalTests: (ctx) =>
    it('offers the optional listState and leaseOwners', () =>
      ctx.withStore(async (store) => {
        expect(typeof store.listState).toBe('function');
        expect(typeof store.leaseOwners).toBe('function');
      })),
});
