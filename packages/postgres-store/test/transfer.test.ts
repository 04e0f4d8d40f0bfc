import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { SyncStore } from '@crm-sync/core';
import { isSyncError } from '@crm-sync/core';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmbeddedStore } from '../src/embedded.js';
import type { TransferLocation } from '../src/index.js';
import { createPostgresStore, createSqlStore, exportData, importData, poolDriver } from '../src/index.js';

const pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 4 });
const root = mkdtempSync(join(tmpdir(), 'crm-sync-transfer-'));
afterAll(async () => {
  await pool.end();
  rmSync(root, { recursive: true, force: true });
});

async function exported(from: TransferLocation): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await exportData(from, out);
  out.end();
  return Buffer.concat(chunks).toString('utf8');
}
const rowsOf = (text: string) => text.trimEnd().split('\n').slice(1);

/** A store with something in every table: records of two entities, a fan-out, logs, a delete. */
async function fill(store: SyncStore): Promise<void> {
  await store.commit({
    entity: 'account',
    records: [{ id: 'a1', expectedRevision: 0, crmId: 'a1', crmVersion: '7', fields: { name: 'Analytical Engines' }, base: { name: 'Analytical Engines' } }],
    checkpoint: '{"mode":"delta","link":"https://crm.example/accounts?$deltatoken=1"}',
  });
  await store.commit({
    entity: 'contact',
    records: [
      { id: 'c1', expectedRevision: 0, crmId: 'c1', fields: { lastname: 'Lovelace', emailaddress1: 'ada@example.test' }, accountId: 'a1', companyFrom: { entity: 'account', crmId: 'a1' }, seenIn: 'snap-1' },
      { id: 'c2', expectedRevision: 0, crmId: 'c2', fields: { lastname: 'Babbage', note: "it's \"quoted\"\nand ünïcode" }, accountId: 'a1', company: { name: 'Old' } },
      { id: 'local-1', expectedRevision: 0, crmId: null, fields: { lastname: 'Local' }, pending: ['lastname'], syncToCrm: true },
      { id: 'gone', expectedRevision: 0, crmId: 'gone', fields: {} },
    ],
    activities: [
      { entity: 'contact', recordId: 'c1', type: 'new-person', source: 'crm' },
      { entity: 'contact', recordId: 'c2', type: 'change-data-value', source: 'local', field: 'lastname', oldValue: null, newValue: 'Babbage', detail: 'typed' },
    ],
    collisions: [{ entity: 'contact', recordId: 'c2', field: 'lastname', localValue: 'Babage', crmValue: 'Babbage', winner: 'crm' }],
    quarantine: [
      { entity: 'contact', recordId: 'c2', direction: 'push', reason: 'too long', payload: { lastname: 'x'.repeat(5) } },
      { entity: 'contact', recordId: null, direction: 'pull', reason: 'no key', payload: [1, 'two', { three: 3 }] },
    ],
    state: { 'fields:contact': '["lastname","emailaddress1"]', 'backfill:contact': 'done' },
    checkpoint: 'contact-cp',
  });
  await store.commit({
    entity: 'contact',
    records: [{ id: 'c2', expectedRevision: 1, crmDeleted: true, fields: { jobtitle: 'Engineer' }, pending: [] }],
    history: [{ entity: 'contact', recordId: 'c2', field: 'jobtitle', rule: 'local-edit', side: 'local', oldValue: null, value: 'Engineer' }],
    deletes: [{ id: 'gone', expectedRevision: 1 }],
    resolveQuarantine: ['c2'],
  });
  await store.commit({
    entity: 'account',
    records: [{ id: 'a1', expectedRevision: 1, fields: { name: 'Difference Engines' } }],
    fanOuts: [{ entity: 'contact', accountId: 'a1', company: { name: 'Difference Engines' }, log: { fields: { name: 'company.name' }, type: 'change-data-value', source: 'crm', detail: null },
      history: { fields: { name: 'company.name' }, side: 'crm', oldValues: { name: 'Analytical Engines' }, detail: null } }],
  });
}

/** Everything a store's reads show (the API, not the tables). */
async function view(store: SyncStore) {
  const all = { limit: 1_000 };
  return {
    contacts: (await store.listRecords('contact', all)).items,
    accounts: (await store.listRecords('account', all)).items,
    outbox: (await store.listOutbox('contact', all)).items.map((r) => r.id),
    activities: (await store.listActivities(all)).items,
    collisions: (await store.listCollisions(all)).items,
    quarantine: (await store.listQuarantine({ ...all, includeResolved: true })).items,
    checkpoints: [await store.getCheckpoint('account'), await store.getCheckpoint('contact')],
    state: [await store.getState('fields:contact'), await store.getState('backfill:contact')],
    stats: await store.stats('contact'),
    history: [
      await store.listFieldHistory?.({ entity: 'contact', recordId: 'c2', field: 'jobtitle', ...all }),
      await store.listFieldHistory?.({ entity: 'contact', recordId: 'c1', field: 'company.name', ...all }),
    ],
  };
}

describe('exportData / importData', () => {
  it('moves an embedded store to a PostgreSQL server and back: the same records, logs, checkpoints and state', async () => {
    const embedded = await createEmbeddedStore({ dataDir: join(root, 'source') });
    const schema = `transfer_${process.pid}`;
    const server = { driver: poolDriver(pool), schema };
    try {
      await fill(embedded);
      const before = await view(embedded);
      expect(before.contacts.map((r) => r.id)).toEqual(['c1', 'c2', 'local-1']);
      expect(before.activities.length).toBeGreaterThanOrEqual(4);

      const text = await exported(embedded);
      const counts = await importData(server, Readable.from([text]));
      expect(counts).toEqual({ records: 4, checkpoints: 2, state: 2, activities: before.activities.length, collisions: 1, quarantine: 2, field_history: 2 });
      expect(before.history.map((h) => h?.items.length)).toEqual([1, 1]);
      const onServer = createPostgresStore({ pool, schema });
      expect(await view(onServer)).toEqual(before);
      // Row for row the same, down to the microsecond of every time.
      expect(rowsOf(await exported(server))).toEqual(rowsOf(text));

      // The logs' numbers go on after the imported ones.
      await onServer.commit({ entity: 'contact', activities: [{ entity: 'contact', recordId: 'c1', type: 'quick-sync', source: 'sync' }] });
      const seqs = (await onServer.listActivities({ limit: 1_000 })).items.map((a) => a.seq);
      expect(seqs.at(-1)).toBe(Math.max(...before.activities.map((a) => a.seq)) + 1);

      // And back into PGlite (another schema of the embedded database).
      const back = { driver: embedded.driver, schema: 'back' };
      await importData(back, Readable.from([await exported(server)]));
      const returned = await view(createSqlStore(embedded.driver, { schema: 'back' }));
      expect(returned.contacts).toEqual(before.contacts);
      expect(returned.activities.length).toBe(before.activities.length + 1);
    } finally {
      await embedded.close();
      await pool.query(`drop schema if exists "${schema}" cascade`);
    }
  }, 90_000);

  it('imports nothing from a cut-off or foreign file, or into a schema that holds data', async () => {
    const source = `transfer_src_${process.pid}`;
    const target = `transfer_dst_${process.pid}`;
    const store = await createEmbeddedStore({ dataDir: join(root, 'refusals') });
    try {
      await fill(store);
      const text = await exported(store);
      const into = { driver: poolDriver(pool), schema: target };
      const lines = text.trimEnd().split('\n');
      const refusal = async (input: string) => {
        const error = await importData(into, Readable.from([input])).catch((e: unknown) => e);
        expect(isSyncError(error, 'CONFIG_INVALID'), String(error)).toBe(true);
        const { rows } = await pool.query(`select count(*)::int as n from "${target}".records`);
        expect(rows[0].n, 'nothing imported').toBe(0);
        return (error as Error).message;
      };
      expect(await refusal(`${lines.slice(0, -1).join('\n')}\n`)).toMatch(/no end line: it was cut off/);
      expect(await refusal(`${lines.slice(0, -2).join('\n')}\n${lines.at(-1)}\n`)).toMatch(/end line counts \d+ \w+ rows, the file holds/);
      expect(await refusal(`{"hello":1}\n${lines.slice(1).join('\n')}`)).toMatch(/no crm-sync-data header/);
      expect(await refusal(`${lines[0]}\n{"table":"passwords","row":{}}\n`)).toMatch(/line 2 is no row of a known table/);
      await importData({ driver: poolDriver(pool), schema: source }, Readable.from([text]));
      const error = await importData({ driver: poolDriver(pool), schema: source }, Readable.from([text])).catch((e: unknown) => e);
      expect(isSyncError(error, 'CONFIG_INVALID') && error.message).toMatch(`schema ${source} already holds data`);
    } finally {
      await store.close();
      for (const schema of [source, target]) await pool.query(`drop schema if exists "${schema}" cascade`);
    }
  }, 90_000);
});
