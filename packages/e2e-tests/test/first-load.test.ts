import { createSyncEngine, SyncError } from '@crm-sync/core';
import type { ChangePage, CrmAdapter, SyncStore } from '@crm-sync/core';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import { afterEach, describe, expect, it } from 'vitest';
import { customEntities, fakeCrmWithMemoryStore, fakeCrmWithPostgresStore } from '../src/harness.js';
import type { World } from '../src/world.js';
import { createWorld, newId } from '../src/world.js';

/**
 * The first full read into an empty entity builds its pages without looking records up (they are
 * all new). A row that comes twice in that read (a table paged while it changes) must still end as
 * one record with one New Person activity: its second insert conflicts and the page is built again.
 */
describe.each([fakeCrmWithMemoryStore, fakeCrmWithPostgresStore(testDatabaseUrl())])('first load into an empty entity: $name', (harness) => {
  let world: World | undefined;
  afterEach(async () => world?.close());

  it('a row repeated on a later page of the first full read stays one record, with its later values', async () => {
    const w = (world = await createWorld(harness));
    const ids = Array.from({ length: 5 }, () => newId()).sort();
    for (const [i, id] of ids.entries()) await w.crm.put('lead', id, { firstname: `Lead ${i}`, lastname: 'Twice' });
    const base = w.crm.adapter;
    const repeated = ids[1] as string;
    // Each snapshot page of leads also carries `repeated` with a newer version and value.
    const adapter: CrmAdapter = {
      ...base,
      describeEntity: (entity, options) => base.describeEntity(entity, options),
      async *pullChanges(entity, request) {
        let n = 0;
        for await (const page of base.pullChanges(entity, request)) {
          n += 1;
          const row = page.upserts.find((r) => r.id === repeated) ?? null;
          const copy = entity.name === 'lead' && page.snapshot && n > 1 && !row
            ? [{ id: repeated, version: `9${n}`, fields: { ...page.upserts[0]?.fields, firstname: `Again ${n}` }, lookups: {}, bySyncUser: false, modifiedOn: null }]
            : [];
          yield { ...page, upserts: [...page.upserts, ...copy] } satisfies ChangePage;
        }
      },
    };
    (base as unknown as { pageSize: number }).pageSize = 2; // the fake CRM: pages of two rows
    const engine = createSyncEngine({ adapter, store: w.store, config: { customEntities } });
    const summary = await engine.runCycle();
    expect(summary.entities.find((e) => e.entity === 'lead')?.status).toBe('ok');
    expect((await w.store.stats('lead')).records).toBe(5);
    const local = await w.local('lead', repeated);
    expect(local?.fields.firstname).toBe('Again 3');
    const activities = (await w.store.listActivities({ limit: 100, entity: 'lead' })).items.filter((a) => a.type === 'new-person');
    expect(activities).toHaveLength(5);
    expect(new Set(activities.map((a) => a.recordId)).size).toBe(5);
  });

  it('a first load whose full read starts over flags the rows the new read no longer has', async () => {
    const w = (world = await createWorld(harness));
    for (let i = 0; i < 6; i += 1) await w.crm.put('lead', newId(), { firstname: `Lead ${i}`, lastname: 'Restarted' });
    const base = w.crm.adapter;
    let gone: string[] = [];
    // The first read of leads stops after its first page (its link expired, say); meanwhile that
    // page's rows are deleted in the CRM, and a new full read (another snapshot) delivers the rest.
    const adapter: CrmAdapter = {
      ...base,
      describeEntity: (entity, options) => base.describeEntity(entity, options),
      async *pullChanges(entity, request) {
        if (entity.name !== 'lead' || request.checkpoint !== null) return yield* base.pullChanges(entity, request);
        for await (const page of base.pullChanges(entity, request)) {
          yield page;
          gone = page.upserts.map((r) => r.id);
          break;
        }
        for (const id of gone) w.crm.remove('lead', id);
        yield* base.pullChanges(entity, request);
      },
    };
    (base as unknown as { pageSize: number }).pageSize = 2;
    const engine = createSyncEngine({ adapter, store: w.store, config: { customEntities } });
    const summary = await engine.runCycle();
    const lead = summary.entities.find((e) => e.entity === 'lead');
    expect(lead?.status).toBe('ok');
    expect(gone).toHaveLength(2);
    expect(lead?.deleted).toBe(2);
    expect((await w.store.stats('lead')).crmDeleted).toBe(2);
    for (const id of gone) expect((await w.local('lead', id))?.crmDeleted).toBe(true);
  });
});

/**
 * Pages of a first load are built and written while the page before them commits, and become
 * visible only after it (CommitOptions.after): they land in order, never more than two at once,
 * and a page that fails takes none of the later ones with it half-written.
 */
describe.each([fakeCrmWithMemoryStore, fakeCrmWithPostgresStore(testDatabaseUrl())])('first load, pages committed in order: $name', (harness) => {
  let world: World | undefined;
  afterEach(async () => world?.close());

  async function loadWith(failAt: number | null) {
    const w = (world = await createWorld(harness));
    for (let i = 0; i < 12; i += 1) await w.crm.put('lead', newId(), { firstname: `Lead ${i}`, lastname: 'Paged' });
    (w.crm.adapter as unknown as { pageSize: number }).pageSize = 2;
    const log: string[] = [];
    let inFlight = 0;
    let most = 0;
    let calls = 0;
    const inner = w.store;
    const store: SyncStore = {
      ...inner,
      async commit(batch, options) {
        if (batch.entity !== 'lead' || !batch.records?.length) return inner.commit(batch, options);
        const n = (calls += 1);
        inFlight += 1;
        most = Math.max(most, inFlight);
        try {
          // Later pages take less time, so without the chaining they would land first.
          await new Promise((resolve) => setTimeout(resolve, 40 - n * 3));
          if (n === failAt) throw new SyncError('STORE_UNAVAILABLE', `page ${n} failed`);
          await inner.commit(batch, options);
          log.push(`page ${n}`);
        } finally {
          inFlight -= 1;
        }
      },
    };
    const engine = createSyncEngine({ adapter: w.crm.adapter, store, config: { customEntities } });
    const summary = await engine.runCycle({ entities: ['lead'] });
    return { w, log, most, summary: summary.entities.find((e) => e.entity === 'lead') };
  }

  it('lands every page in order with two commits in flight', async () => {
    const { w, log, most, summary } = await loadWith(null);
    expect(summary?.status).toBe('ok');
    expect(log).toEqual(Array.from({ length: 6 }, (_, i) => `page ${i + 1}`));
    expect(most).toBe(2);
    expect((await w.store.stats('lead')).records).toBe(12);
  });

  it('a failed page leaves the pages before it and nothing after it', async () => {
    const { w, log, summary } = await loadWith(3);
    expect(summary?.status).toBe('failed');
    expect(log).toEqual(['page 1', 'page 2']);
    expect((await w.store.stats('lead')).records).toBe(4);
  });

  it('a page that keeps conflicting fails the load, and nothing of the load runs on after the cycle', async () => {
    const w = (world = await createWorld(harness));
    const ids = Array.from({ length: 12 }, () => newId());
    for (const [i, id] of ids.entries()) await w.crm.put('lead', id, { firstname: `Lead ${i}`, lastname: 'Conflicting' });
    (w.crm.adapter as unknown as { pageSize: number }).pageSize = 2;
    const victim = ids[4] as string;
    let returned = false;
    const late: number[] = [];
    const inner = w.store;
    const store: SyncStore = {
      ...inner,
      async commit(batch, options) {
        if (returned) late.push(batch.records?.length ?? 0);
        if (batch.entity === 'lead' && batch.records?.some((r) => r.id === victim)) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          throw new SyncError('STORE_CONFLICT', 'changed since read', { details: { entity: 'lead', ids: [victim] } });
        }
        return inner.commit(batch, options);
      },
    };
    const engine = createSyncEngine({ adapter: w.crm.adapter, store, config: { customEntities } });
    const summary = (await engine.runCycle({ entities: ['lead'] })).entities.find((e) => e.entity === 'lead');
    returned = true;
    expect(summary?.status).toBe('failed');
    expect(summary?.error?.code).toBe('STORE_CONFLICT');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(late).toEqual([]);
    expect((await w.store.stats('lead')).records).toBeLessThan(12);
  });

  it('a row without a key in the last pages of a first load keeps it from flagging deletes', async () => {
    const w = (world = await createWorld(harness));
    for (let i = 0; i < 6; i += 1) await w.crm.put('lead', newId(), { firstname: `Lead ${i}`, lastname: 'Keyless' });
    const base = w.crm.adapter;
    (base as unknown as { pageSize: number }).pageSize = 2;
    // A first read that starts over after its first page (a new snapshot, as after an expired
    // link); the new read's last rows come with one row whose key was lost, then an empty last page.
    const adapter: CrmAdapter = {
      ...base,
      describeEntity: (entity, options) => base.describeEntity(entity, options),
      async *pullChanges(entity, request) {
        if (entity.name !== 'lead' || request.checkpoint !== null) return yield* base.pullChanges(entity, request);
        const pages: ChangePage[] = [];
        for await (const page of base.pullChanges(entity, request)) pages.push(page);
        const [first, second, third] = pages as [ChangePage, ChangePage, ChangePage];
        yield { ...first, snapshot: { id: 'first-read', complete: false } };
        yield { ...second, snapshot: { id: 'second-read', complete: false } };
        yield { ...third, rejected: [{ id: null, reason: 'primary key leadid is missing', raw: {} }], snapshot: { id: 'second-read', complete: false } };
        yield { upserts: [], deletes: [], rejected: [], checkpoint: (pages.at(-1) as ChangePage).checkpoint, snapshot: { id: 'second-read', complete: true } };
      },
    };
    const engine = createSyncEngine({ adapter, store: w.store, config: { customEntities } });
    const lead = (await engine.runCycle({ entities: ['lead'] })).entities.find((e) => e.entity === 'lead');
    expect(lead?.status).toBe('ok');
    expect(lead?.quarantined).toBe(1);
    // The first page's rows are not in the second read, but any record could be the keyless row.
    expect(lead?.deleted).toBe(0);
    expect((await w.store.stats('lead')).crmDeleted).toBe(0);
  });
});
