import type { CycleSummary, SyncEvent } from '@crm-sync/core';
import { createMemoryStore } from '@crm-sync/memory-store';
import { createSyncEngine } from '@crm-sync/core';
import { createPostgresStore, migrate } from '@crm-sync/postgres-store';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { allHarnesses } from '../src/simulator-harness.js';
import { customEntities, fakeCrmWithMemoryStore, fakeCrmWithPostgresStore, requireCapability } from '../src/harness.js';
import { manualTimer, settle } from '../src/manual-timer.js';
import type { World } from '../src/world.js';
import { createWorld, newId } from '../src/world.js';

const harnesses = allHarnesses(testDatabaseUrl());

describe.each(harnesses)('engine end to end: $name', (harness) => {
  let world: World;
  afterEach(async () => world?.close());
  const setup = async (config = {}) => (world = await createWorld(harness, config));

  it('R3: runs a cycle, waits the interval, runs again, never two at once, and stops cleanly', async () => {
    const w = await setup();
    const events: SyncEvent['type'][] = [];
    const timer = manualTimer();
    const engine = createSyncEngine({
      adapter: w.crm.adapter, store: w.store, config: { intervalMs: 1_000, customEntities }, timer,
      onEvent: (e) => { if (e.type === 'cycle-started' || e.type === 'cycle-finished') events.push(e.type); },
    });
    await w.crm.put('lead', newId(), { firstname: 'A' });
    engine.start();
    expect(await timer.next()).toBe(1_000);
    expect(events).toEqual(['cycle-started', 'cycle-finished']);
    timer.advance(999);
    await settle();
    expect(events).toHaveLength(2);
    timer.advance(1);
    expect(await timer.next()).toBe(1_000);
    expect(events).toHaveLength(4);
    const manual = await engine.trigger();
    expect(manual.ok).toBe(true);
    await engine.stop();
    // The stop ended the wait: no timer is left, and time moving on starts nothing.
    expect(timer.pending).toEqual([]);
    const count = events.length;
    timer.advance(10_000);
    await settle();
    expect(events.length).toBe(count);
    expect(count).toBe(6);
    for (let i = 0; i < events.length; i += 2) expect([events[i], events[i + 1]]).toEqual(['cycle-started', 'cycle-finished']);
  });

  it('R12: a full read after an expired token flags records the CRM no longer has', async () => {
    const w = await setup();
    const [kept, gone] = [newId(), newId()];
    await w.crm.put('contact', kept, { firstname: 'Kept' });
    await w.crm.put('contact', gone, { firstname: 'Gone' });
    await w.cycle();
    await w.crm.remove('contact', gone);
    await w.crm.expireTokensAndForgetDeletes();
    const summary = await w.cycle();
    expect(summary.entities.find((e) => e.entity === 'contact')?.deleted).toBe(1);
    expect((await w.local('contact', gone))?.crmDeleted).toBe(true);
    expect((await w.local('contact', kept))?.crmDeleted).toBe(false);
    expect((await w.activities('contact', gone)).at(-1)?.detail).toMatch(/full read/);
  });

  it('quarantines a record the CRM refuses on push, logs it on the person, and goes on', async () => {
    const w = await setup();
    const [bad, good] = [newId(), newId()];
    await w.crm.put('lead', bad, { firstname: 'Bad' });
    await w.crm.put('lead', good, { firstname: 'Good' });
    await w.cycle();
    // Longer than the CRM's maximum length for the column: the CRM refuses it. A local edit is checked
    // against the CRM's metadata now, so such a value is queued as an older version (or an edit made
    // before the column's limit was lowered) left it in the outbox.
    const queued = await w.local('lead', bad);
    await w.store.commit({
      entity: 'lead',
      records: [{ id: bad, expectedRevision: queued?.revision ?? 0, fields: { emailaddress1: `${'x'.repeat(300)}@example.test` }, pending: ['emailaddress1'] }],
    });
    await w.engine.editLocal('lead', good, { fields: { emailaddress1: 'good@x.test' } });
    const summary = await w.cycle();
    expect(summary.entities.find((e) => e.entity === 'lead')).toMatchObject({ pushed: 1, quarantined: 1, status: 'ok' });
    expect((await w.crm.get('lead', good))?.emailaddress1).toBe('good@x.test');
    const [entry] = (await w.store.listQuarantine({ limit: 10, entity: 'lead' })).items;
    expect(entry).toMatchObject({ recordId: bad, direction: 'push', reason: expect.stringMatching(/validation error.*emailaddress1/) });
    expect((await w.activities('lead', bad)).at(-1)).toMatchObject({ type: 'sync-failed', detail: expect.stringContaining('validation') });
    expect((await w.local('lead', bad))?.pending).toEqual([]);
  });

  it('quarantines a row damaged in transit with its reason, re-reads it, and ends the cycle with every row', async () => {
    const w = await setup();
    const ids = Array.from({ length: 5 }, newId);
    for (const id of ids) await w.crm.put('contact', id, { firstname: 'Ok' });
    await w.cycle();
    const damaged = ids[2] as string;
    for (const id of ids) await w.crm.put('contact', id, { lastname: 'Changed' });
    await w.crm.damageNextPull('contact', damaged);
    const summary = await w.cycle();
    expect(summary.entities.find((e) => e.entity === 'contact')).toMatchObject({ status: 'ok', quarantined: 1 });
    for (const id of ids) expect((await w.local('contact', id))?.fields.lastname).toBe('Changed');
    expect((await w.store.listQuarantine({ limit: 10, entity: 'contact' })).items).toEqual([]);
    const [entry] = (await w.store.listQuarantine({ limit: 10, entity: 'contact', includeResolved: true })).items;
    expect(entry).toMatchObject({ direction: 'pull', reason: expect.stringMatching(/expected/), resolvedAt: expect.any(String) });
    expect(ids).toContain(entry?.recordId);
  });

  it('R12: a row damaged in transit during a first full read is re-read after it and not flagged as deleted', async () => {
    const w = await setup();
    const ids = Array.from({ length: 5 }, newId);
    for (const id of ids) await w.crm.put('contact', id, { firstname: 'Ok' });
    const damaged = ids[2] as string;
    await w.crm.damageNextPull('contact', damaged);
    const summary = await w.cycle();
    expect(summary.entities.find((e) => e.entity === 'contact')).toMatchObject({ status: 'ok', quarantined: 1, deleted: 0 });
    for (const id of ids) expect(await w.local('contact', id)).toMatchObject({ crmDeleted: false, fields: expect.objectContaining({ firstname: 'Ok' }) });
    // Created once when re-read, never flagged as deleted.
    expect((await w.activities('contact', damaged)).map((a) => a.type)).toEqual(['new-person']);
    // The next full read finds it too: still nothing to flag.
    await w.crm.expireTokensAndForgetDeletes();
    expect((await w.cycle()).entities.find((e) => e.entity === 'contact')?.deleted).toBe(0);
  });

  it('R2: a CRM change between pull and push (412) is merged and the push retried in the same cycle', async () => {
    const w = await setup();
    const con = newId();
    await w.crm.put('contact', con, { firstname: 'Ada', jobtitle: 'Engineer' });
    await w.cycle();
    await w.engine.editLocal('contact', con, { fields: { emailaddress1: 'ada@local.test' } });
    let meddled = false;
    const engine = createSyncEngine({
      adapter: w.crm.adapter, store: w.store, config: { customEntities }, runnerId: w.engine.runnerId,
      onEvent: (e) => {
        if (!meddled && e.type === 'page-applied' && e.entity === 'new_membership') {
          meddled = true;
          void w.crm.put('contact', con, { jobtitle: 'Director' });
        }
      },
    });
    const summary = await engine.runCycle();
    expect(meddled).toBe(true);
    const contact = summary.entities.find((e) => e.entity === 'contact');
    expect(contact?.collisions).toBeGreaterThanOrEqual(1);
    expect(await w.crm.get('contact', con)).toMatchObject({ jobtitle: 'Director', emailaddress1: 'ada@local.test' });
    expect((await w.local('contact', con))?.fields).toMatchObject({ jobtitle: 'Director', emailaddress1: 'ada@local.test' });
    expect((await w.local('contact', con))?.pending).toEqual([]);
  });

  it('several runners on one store: an entity is synced by the lease holder only, and taken over when it stops or dies', async (ctx) => {
    // Takeover here is by a graceful stop (a dead runner's lease expiring has its own test, on a moved clock):
    // leases long enough that a slow machine never loses one mid-cycle.
    const w = await setup({ leaseTtlMs: 60_000 });
    // The embedded store belongs to one process: no leases, and a second process is refused at open.
    requireCapability(ctx, w.store, 'leases');
    await w.crm.put('lead', newId(), { firstname: 'A' });
    const second = createSyncEngine({ adapter: w.crm.adapter, store: w.store, config: { customEntities, leaseTtlMs: 60_000 }, runnerId: 'runner-2' });
    await w.cycle();
    // Every entity of the cycle, with its status: an empty summary must not pass as "all skipped".
    const names = ['systemuser', 'team', 'account', 'contact', 'lead', 'opportunity', 'new_membership'];
    const statuses = (summary: { entities: Array<{ entity: string; status: string }> }) => summary.entities.map((e) => [e.entity, e.status]);
    const all = (status: string) => names.map((name) => [name, status]);
    const skipped = await second.runCycle();
    expect(statuses(skipped)).toEqual(all('skipped'));
    await w.engine.stop(); // graceful: leases released
    const takeover = await second.runCycle();
    expect(statuses(takeover)).toEqual(all('ok'));
    // runner-3 finds every entity held by runner-2, which keeps syncing.
    const third = createSyncEngine({ adapter: w.crm.adapter, store: w.store, config: { customEntities, leaseTtlMs: 60_000 }, runnerId: 'runner-3' });
    expect(statuses(await third.runCycle())).toEqual(all('skipped'));
    await w.crm.put('lead', newId(), { firstname: 'B' });
    expect((await second.runCycle()).entities.find((e) => e.entity === 'lead')).toMatchObject({ status: 'ok', applied: 1 });
    expect((await w.store.stats('lead')).records).toBe(2);
  });

  it('a graceful stop commits the page in hand; the next cycle finishes with every record once', async () => {
    const w = await setup();
    const ids = Array.from({ length: 1_000 }, newId);
    for (const id of ids) await w.crm.put('contact', id, { firstname: 'x' });
    const controller = new AbortController();
    let pages = 0;
    const engine = createSyncEngine({
      adapter: w.crm.adapter, store: w.store, config: { customEntities }, runnerId: w.engine.runnerId,
      onEvent: (e) => {
        if (e.type === 'page-applied' && e.entity === 'contact' && ++pages === 2) controller.abort();
      },
    });
    const summary = await engine.runCycle({ signal: controller.signal });
    const contacts = summary.entities.find((e) => e.entity === 'contact');
    expect(contacts?.status).toBe('interrupted');
    // A first load writes a page while the one before it commits: the stop lands after the second
    // page or, when the third was already being written, after that one.
    expect([2, 3]).toContain(contacts?.pages);
    // Every row of the pages pulled is committed, and nothing beyond them.
    expect((await w.store.stats('contact')).records).toBe(contacts?.pulled);
    expect(contacts?.pulled).toBeLessThan(1_000);
    expect(await w.store.getCheckpoint('contact')).not.toBeNull();
    await w.cycle();
    expect((await w.store.stats('contact')).records).toBe(1_000);
    const listed = (await w.store.listRecords('contact', { limit: 2_000 })).items.map((r) => r.id);
    expect(new Set(listed).size).toBe(1_000);
  });
});

describe('local edits and leases (PostgreSQL store)', () => {
  it('an edit does not wait for the lease row that pages of the entity hold: it commits while another transaction holds it', async () => {
    const url = testDatabaseUrl();
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    const schema = `e2e_lease_edit_${process.pid}`;
    await migrate(pool, schema);
    const store = createPostgresStore({ pool, schema, lockTimeoutMs: 60_000 });
    const w = await createWorld({ name: 'fake CRM + postgres store', crm: fakeCrmWithPostgresStore(url).crm, store: async () => store });
    const other = await pool.connect();
    try {
      const id = newId();
      await w.crm.put('contact', id, { firstname: 'Ann' });
      await w.cycle(); // the engine now holds the contact lease; its commits for contacts carry it
      await other.query('begin');
      await other.query(`select * from "${schema}".leases where entity = 'contact' for update`);
      const edit = w.engine.editLocal('contact', id, { fields: { jobtitle: 'Buyer' } });
      const waited = await Promise.race([edit.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 5_000))]);
      expect(waited).toBe(false);
      await other.query('rollback');
      await w.cycle();
      expect((await w.crm.get('contact', id))?.jobtitle).toBe('Buyer');
    } finally {
      await other.query('rollback').catch(() => undefined);
      other.release();
      await w.close();
      await pool.query(`drop schema "${schema}" cascade`);
      await pool.end();
    }
  });
});

describe('a runner that dies (memory store on a clock the test moves)', () => {
  it('keeps its entities until its leases expire; then another runner takes over and the dead one, back late, stays off', async () => {
    let shiftMs = 0;
    const store = createMemoryStore({ now: () => new Date(Date.now() + shiftMs) });
    const crm = await fakeCrmWithMemoryStore.crm();
    const engine = (runnerId: string) => createSyncEngine({ adapter: crm.adapter, store, config: { customEntities, leaseTtlMs: 1_000 }, runnerId });
    const lead = (summary: CycleSummary) => summary.entities.find((e) => e.entity === 'lead');
    const [dead, survivor] = [engine('runner-2'), engine('runner-3')];
    await crm.put('lead', newId(), { firstname: 'A' });
    expect(lead(await dead.runCycle())).toMatchObject({ status: 'ok', applied: 1 }); // runner-2 then "dies": it never stops
    await crm.put('lead', newId(), { firstname: 'B' });
    expect(lead(await survivor.runCycle())).toMatchObject({ status: 'skipped' });
    shiftMs = 1_000; // runner-2's leases (1 s from its last commit) have expired
    expect(lead(await survivor.runCycle())).toMatchObject({ status: 'ok', applied: 1 });
    expect(lead(await dead.runCycle())).toMatchObject({ status: 'skipped' });
    expect((await store.stats('lead')).records).toBe(2);
    await survivor.stop();
    await store.close();
    await crm.close();
  });
});
