import { isSyncError } from '@crm-sync/core';
import type { RecordWrite } from '@crm-sync/core';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { connectPostgresStore, createPostgresStore, migrate, migrations } from '../src/index.js';

const url = testDatabaseUrl();
const pool = new pg.Pool({ connectionString: url, max: 10 });
afterAll(() => pool.end());
let n = 0;
const freshSchema = () => `pgstore_${process.pid}_${++n}`;

/** A pool whose queries are counted (statements sent to the server, transaction control included). */
function countingPool(): { pool: pg.Pool; statements: () => number; reset: () => void } {
  let count = 0;
  const counted = new pg.Pool({ connectionString: url, max: 4 });
  const originalConnect = counted.connect.bind(counted);
  const wrapped = new WeakSet<object>();
  const wrapQuery = <T extends { query: (...args: never[]) => unknown }>(target: T): T => {
    if (wrapped.has(target)) return target; // pooled clients come back: count each statement once
    wrapped.add(target);
    const query = target.query.bind(target) as (...args: unknown[]) => unknown;
    (target as { query: unknown }).query = (...args: unknown[]) => {
      count += 1;
      return query(...args);
    };
    return target;
  };
  wrapQuery(counted);
  // pool.query() connects with a callback internally (already counted); the store's transactions use connect().
  (counted as { connect: unknown }).connect = (callback?: never) =>
    callback ? originalConnect(callback) : originalConnect().then((client) => wrapQuery(client));
  return { pool: counted, statements: () => count, reset: () => (count = 0) };
}

describe('postgres-store', () => {
  it('a commit waits for a lock no longer than lockTimeoutMs, then fails and writes nothing', async () => {
    const schema = freshSchema();
    await migrate(pool, schema);
    const store = createPostgresStore({ pool, schema, lockTimeoutMs: 300 });
    expect(await store.acquireLease?.('contact', { owner: 'runner-a', ttlMs: 60_000 })).toBe(true);
    // Another transaction holds the lease row (as a runner taking over would, mid-commit).
    const other = await pool.connect();
    try {
      await other.query('begin');
      await other.query(`select * from "${schema}".leases where entity = 'contact' for update`);
      const started = Date.now();
      const error = await store
        .commit({ entity: 'contact', lease: { owner: 'runner-a', ttlMs: 60_000 }, records: [{ id: 'c-1', expectedRevision: 0, crmId: 'c-1', fields: { firstname: 'Ada' } }] })
        .then(() => null, (e: unknown) => e);
      expect(isSyncError(error, 'STORE_UNAVAILABLE') && error.message).toMatch(/lock timeout/);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await other.query('rollback');
      other.release();
    }
    expect(await store.getRecords('contact', ['c-1'])).toEqual([]);
    // The lock gone, the same commit goes through.
    await store.commit({ entity: 'contact', lease: { owner: 'runner-a', ttlMs: 60_000 }, records: [{ id: 'c-1', expectedRevision: 0, crmId: 'c-1', fields: { firstname: 'Ada' } }] });
    expect((await store.getRecords('contact', ['c-1']))[0]?.fields).toEqual({ firstname: 'Ada' });
  });

  it('refuses a lock timeout that is not a whole number of milliseconds', async () => {
    for (const lockTimeoutMs of [-1, 1.5, Number.NaN]) {
      let error: unknown = null;
      try {
        createPostgresStore({ pool, lockTimeoutMs });
      } catch (e) {
        error = e;
      }
      expect(isSyncError(error, 'CONFIG_INVALID') && error.message).toMatch(/lockTimeoutMs/);
    }
    await expect(connectPostgresStore({ url, lockTimeoutMs: -5 })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('prepares the statements of commits and reads once per connection, named apart for each schema; preparedStatements: false sends them unnamed', async () => {
    const single = new pg.Pool({ connectionString: url, max: 1 }); // one connection: it sees what every call left prepared
    try {
      const prepared = async () =>
        (await single.query<{ name: string }>("select name from pg_prepared_statements where name like 'crm_sync_%' order by name")).rows.map((r) => r.name);
      const [a, b, plain] = [freshSchema(), freshSchema(), freshSchema()];
      for (const schema of [a, b, plain]) await migrate(single, schema);
      const stores = [createPostgresStore({ pool: single, schema: a }), createPostgresStore({ pool: single, schema: b })];
      for (const [i, store] of stores.entries()) {
        for (let round = 0; round < 3; round += 1) {
          await store.commit({ entity: 'contact', records: [{ id: `c${round}`, expectedRevision: 0, crmId: `c${round}`, fields: { lastname: `store ${i}` } }] });
          await store.commit({ entity: 'contact', records: [{ id: `c${round}`, expectedRevision: 1, fields: { firstname: 'Ada' } }] });
        }
      }
      for (const [i, store] of stores.entries()) {
        expect((await store.getRecords('contact', ['c0', 'c1', 'c2'])).map((r) => r.fields)).toEqual(Array(3).fill({ lastname: `store ${i}`, firstname: 'Ada' }));
        expect((await store.getRecordsByCrmId('contact', ['c2']))[0]?.id).toBe('c2');
      }
      // Per schema: the insert and update batch statements, by id and by CRM id.
      expect(await prepared()).toHaveLength(8);

      const before = await prepared();
      const unnamed = createPostgresStore({ pool: single, schema: plain, preparedStatements: false });
      await unnamed.commit({ entity: 'contact', records: [{ id: 'p1', expectedRevision: 0, crmId: 'p1', fields: { lastname: 'Plain' } }] });
      await unnamed.commit({ entity: 'contact', records: [{ id: 'p1', expectedRevision: 1, fields: { firstname: 'Bo' } }] });
      expect((await unnamed.getRecords('contact', ['p1']))[0]?.fields).toEqual({ lastname: 'Plain', firstname: 'Bo' });
      expect(await prepared()).toEqual(before);
    } finally {
      await single.end();
    }
  });

  it('refuses preparedStatements that is not true or false', async () => {
    expect(() => createPostgresStore({ pool, preparedStatements: 'yes' as unknown as boolean })).toThrow(/preparedStatements must be true or false/);
    await expect(connectPostgresStore({ url, preparedStatements: 1 as unknown as boolean })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('migrate() applies every migration once and is safe to run concurrently', async () => {
    const schema = freshSchema();
    const results = await Promise.all([migrate(pool, schema), migrate(pool, schema), migrate(pool, schema)]);
    expect(results.flat().sort()).toEqual(migrations.map((m) => m.version));
    expect(await migrate(pool, schema)).toEqual([]);
    const { rows } = await pool.query(`select version from "${schema}".schema_migrations order by version`);
    expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
  });

  it('writes a 5,000-record page with its checkpoint and a 5,001-contact fan-out in a fixed number of statements', async () => {
    const schema = freshSchema();
    await migrate(pool, schema);
    const counting = countingPool();
    const store = createPostgresStore({ pool: counting.pool, schema });
    try {
      const contacts: RecordWrite[] = Array.from({ length: 5_001 }, (_, i) => ({
        id: `c${i}`, expectedRevision: 0, crmId: `c${i}`, crmVersion: '1', fields: { lastname: `n${i}` }, accountId: 'acc', company: { name: 'Old' },
      }));
      counting.reset();
      await store.commit({ entity: 'contact', records: contacts, checkpoint: 'page-1' });
      const pageStatements = counting.statements();
      counting.reset();
      await store.commit({
        entity: 'account',
        records: [{ id: 'acc', expectedRevision: 0, crmId: 'acc', fields: { name: 'New' } }],
        fanOuts: [{
          entity: 'contact', accountId: 'acc', company: { name: 'New' },
          log: { fields: { name: 'company.name' }, type: 'change-data-value', source: 'crm', detail: null },
        }],
      });
      const fanOutStatements = counting.statements();
      // begin, one write statement, commit; plus two set-wise fan-out statements.
      expect(pageStatements).toBe(3);
      expect(fanOutStatements).toBe(5);
      expect((await store.stats('contact')).records).toBe(5_001);
      expect(await store.getCheckpoint('contact')).toBe('page-1');
      const { rows } = await pool.query(`select count(*)::int as n from "${schema}".activities where field = 'company.name' and new_value = '"New"'`);
      expect(rows[0].n).toBe(5_001);
      const { rows: updated } = await pool.query(`select count(*)::int as n from "${schema}".records where entity = 'contact' and company->>'name' = 'New' and revision = 2`);
      expect(updated[0].n).toBe(5_001);
    } finally {
      await counting.pool.end();
    }
  });

  it('keeps field values in JSONB: a custom entity and a new field need no migration', async () => {
    const schema = freshSchema();
    await migrate(pool, schema);
    const store = createPostgresStore({ pool, schema });
    await store.commit({ entity: 'new_membership', records: [{ id: 'm1', expectedRevision: 0, crmId: 'm1', fields: { new_name: 'Gold', new_level: 3 } }] });
    await store.commit({ entity: 'new_membership', records: [{ id: 'm1', expectedRevision: 1, fields: { new_brand_new_column: true } }] });
    expect((await store.getRecords('new_membership', ['m1']))[0]?.fields).toEqual({ new_name: 'Gold', new_level: 3, new_brand_new_column: true });
  });

  it('treats SQL in ids and values as data', async () => {
    const schema = freshSchema();
    await migrate(pool, schema);
    const store = createPostgresStore({ pool, schema });
    const evil = "x'); drop table records; --";
    await store.commit({ entity: 'lead', records: [{ id: evil, expectedRevision: 0, crmId: evil, fields: { note: evil, [`k${evil.length}`]: 1 } }], checkpoint: evil });
    expect((await store.getRecords('lead', [evil]))[0]?.fields.note).toBe(evil);
    expect(await store.getCheckpoint('lead')).toBe(evil);
    expect((await store.listRecords('lead', { limit: 5, where: { note: evil } })).items).toHaveLength(1);
  });

  it('connectPostgresStore() migrates, and reports an unreachable server as STORE_UNAVAILABLE', async () => {
    const schema = freshSchema();
    const store = await connectPostgresStore({ url, schema });
    await store.commit({ entity: 'lead', checkpoint: 'cp' });
    expect(await store.getCheckpoint('lead')).toBe('cp');
    await store.close();
    const error = await connectPostgresStore({ url: 'postgres://postgres@127.0.0.1:1/none', schema }).catch((e: unknown) => e);
    expect(isSyncError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(/ECONNREFUSED|connect/);
  });

  it('a closed store refuses calls with STORE_UNAVAILABLE', async () => {
    const schema = freshSchema();
    await migrate(pool, schema);
    const store = createPostgresStore({ pool, schema });
    await store.close();
    expect(isSyncError(await store.getCheckpoint('lead').catch((e: unknown) => e), 'STORE_UNAVAILABLE')).toBe(true);
  });
});
