/**
 * What the conformance suite does not check and the memory store promises: invalid batches write
 * nothing, callers never hold the store's own objects, the lazy indexes (sorted ids, outbox,
 * account members, activities by record, open quarantine) agree with the data, and a randomized
 * run gives the same answers as the implementation before commit was reworked (bench/).
 */
import type { FieldMap, RecordWrite, StoreBatch, SyncStore } from '@crm-sync/core';
import { isSyncError } from '@crm-sync/core';
import { describe, expect, it } from 'vitest';
import { createMemoryStore as createReferenceStore } from '../bench/reference-memory-store.js';
import { prng } from '@crm-sync/store-testkit';
import { createMemoryStore, createMemoryStoreData } from '../src/index.js';

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

const create = (id: string, more: Partial<RecordWrite> = {}): RecordWrite => ({ id, expectedRevision: 0, crmId: id, ...more });

describe('memory store: atomic commits', () => {
  const bad: [string, (id: string) => StoreBatch][] = [
    ['a write without an id', (id) => ({ entity: 'contact', records: [create(id), { expectedRevision: 0 } as RecordWrite] })],
    ['pending that is not a list', (id) => ({ entity: 'contact', records: [create(id), create(`${id}-2`, { pending: 'a' as unknown as string[] })] })],
    ['fields that are not a map', (id) => ({ entity: 'contact', records: [create(id, { fields: 'x' as unknown as FieldMap })] })],
    ['an activity that is not an object', (id) => ({ entity: 'contact', records: [create(id)], activities: [null as never] })],
    ['a fan-out whose log names its fields as a list', (id) => ({
      entity: 'account', records: [create(id)],
      fanOuts: [{ entity: 'contact', accountId: 'a', company: {}, log: { fields: ['name'] as unknown as Record<string, string>, type: 'change-data-value', source: 'crm', detail: null } }],
    })],
    ['resolveQuarantine that is not a list', (id) => ({ entity: 'contact', records: [create(id)], resolveQuarantine: id as unknown as string[] })],
    ['resolveDirection that is not a direction', (id) => ({ entity: 'contact', records: [create(id)], resolveQuarantine: [id], resolveDirection: 'both' as 'pull' })],
  ];
  for (const [what, batch] of bad) {
    it(`rejects ${what} with STORE_BATCH_INVALID and writes nothing`, async () => {
      const data = createMemoryStoreData();
      const store = createMemoryStore({ data });
      await store.commit({ entity: 'contact', checkpoint: 'cp0', quarantine: [{ entity: 'contact', recordId: 'r1', direction: 'pull', reason: 'x', payload: null }] });
      const error = await failure(store.commit({ checkpoint: 'cp1', state: { k: 'v' }, resolveQuarantine: ['r1'], ...batch('r1') }));
      expect(isSyncError(error, 'STORE_BATCH_INVALID')).toBe(true);
      expect(data.tables.get('contact')?.records.size ?? 0).toBe(0);
      expect(await store.getCheckpoint('contact')).toBe('cp0');
      expect(await store.getState('k')).toBeNull();
      expect(data.activities).toEqual([]);
      expect((await store.stats('contact')).quarantined).toBe(1);
    });
  }

  it('reports a stale revision and a bad write of the same batch as the bad write (a retry cannot fix it)', async () => {
    const store = createMemoryStore();
    await store.commit({ entity: 'lead', records: [create('a')] });
    const error = await failure(store.commit({ entity: 'lead', records: [{ id: 'a', expectedRevision: 5 }], activities: [7 as never] }));
    expect(isSyncError(error, 'STORE_BATCH_INVALID')).toBe(true);
  });

  it('a lost lease writes nothing, not even the lease renewal', async () => {
    let time = Date.parse('2026-01-01T00:00:00Z');
    const store = createMemoryStore({ now: () => new Date(time) });
    expect(await store.acquireLease?.('contact', { owner: 'a', ttlMs: 1_000 })).toBe(true);
    time += 2_000;
    expect(await store.acquireLease?.('contact', { owner: 'b', ttlMs: 1_000 })).toBe(true);
    const error = await failure(store.commit({ entity: 'contact', lease: { owner: 'a', ttlMs: 60_000 }, records: [create('x')] }));
    expect(isSyncError(error, 'LEASE_LOST')).toBe(true);
    expect(await store.acquireLease?.('contact', { owner: 'a', ttlMs: 1_000 })).toBe(false);
    expect(await store.getRecords('contact', ['x'])).toEqual([]);
  });
});

describe('memory store: callers never hold the store’s objects', () => {
  it('changing a returned record, or the maps given to commit, changes nothing stored', async () => {
    const store = createMemoryStore();
    const crm: FieldMap = { firstname: 'Ada' };
    const pending = ['firstname'];
    const company = { name: 'Acme' };
    await store.commit({ entity: 'contact', records: [create('c1', { fields: crm, base: crm, pending, accountId: 'acc', company })] });
    crm.firstname = 'changed by the caller';
    pending.push('lastname');
    company.name = 'changed by the caller';
    const [first] = await store.getRecordsByCrmId('contact', ['c1']);
    expect(first).toMatchObject({ fields: { firstname: 'Ada' }, base: { firstname: 'Ada' }, pending: ['firstname'], company: { name: 'Acme' } });
    if (!first) throw new Error('missing');
    first.fields.firstname = 'x';
    first.base.lastname = 'y';
    first.pending.push('z');
    first.company.city = 'Oslo';
    first.revision = 99;
    expect(first.base.firstname).toBe('Ada'); // fields and base are separate copies, even when stored as one map
    const [again] = await store.getRecords('contact', ['c1']);
    expect(again).toMatchObject({ revision: 1, fields: { firstname: 'Ada' }, base: { firstname: 'Ada' }, pending: ['firstname'], company: { name: 'Acme' } });
    expect(again?.fields).not.toBe(first.fields);
  });

  it('changing a returned log entry changes nothing stored', async () => {
    const store = createMemoryStore();
    await store.commit({
      entity: 'lead',
      activities: [{ entity: 'lead', recordId: 'l1', type: 'sync-failed', source: 'sync', detail: 'why' }],
      collisions: [{ entity: 'lead', recordId: 'l1', field: 'f', localValue: 1, crmValue: 2, winner: 'local' }],
      quarantine: [{ entity: 'lead', recordId: 'l1', direction: 'push', reason: 'bad', payload: { a: 1 } }],
    });
    const [activity] = (await store.listActivities({ limit: 10, entity: 'lead', recordId: 'l1' })).items;
    const [collision] = (await store.listCollisions({ limit: 10 })).items;
    const [entry] = (await store.listQuarantine({ limit: 10 })).items;
    if (!activity || !collision || !entry) throw new Error('missing');
    activity.detail = 'x';
    collision.winner = 'crm';
    entry.resolvedAt = 'x';
    expect((await store.listActivities({ limit: 10 })).items[0]?.detail).toBe('why');
    expect((await store.listCollisions({ limit: 10 })).items[0]?.winner).toBe('local');
    expect((await store.listQuarantine({ limit: 10 })).items[0]?.resolvedAt).toBeNull();
  });
});

describe('memory store: indexes', () => {
  it('lists records in id order across inserts made between pages', async () => {
    const store = createMemoryStore();
    await store.commit({ entity: 'account', records: ['d', 'b', 'f'].map((id) => create(id)) });
    const first = await store.listRecords('account', { limit: 2 });
    expect(first.items.map((r) => r.id)).toEqual(['b', 'd']);
    await store.commit({ entity: 'account', records: ['a', 'e', 'c', 'g'].map((id) => create(id)) });
    const rest = await store.listRecords('account', { limit: 10, after: first.next ?? undefined });
    expect(rest.items.map((r) => r.id)).toEqual(['e', 'f', 'g']);
    expect((await store.listRecords('account', { limit: 10 })).items.map((r) => r.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });

  it('keeps the outbox in id order as records leave and come back', async () => {
    const store = createMemoryStore();
    const ids = Array.from({ length: 50 }, (_, i) => `p${String(i).padStart(2, '0')}`);
    await store.commit({ entity: 'lead', records: ids.map((id) => create(id, { pending: ['a'] })) });
    const outbox = async () => {
      const out: string[] = [];
      let after: string | number | undefined;
      for (;;) {
        const page = await store.listOutbox('lead', { limit: 7, ...(after !== undefined ? { after } : {}) });
        out.push(...page.items.map((r) => r.id));
        if (page.next === null) return out;
        after = page.next;
      }
    };
    expect(await outbox()).toEqual(ids);
    let revision = 1;
    for (let round = 0; round < 3; round++) {
      await store.commit({ entity: 'lead', records: ids.map((id, i) => ({ id, expectedRevision: revision, pending: (i + round) % 3 === 0 ? ['a'] : [] })) });
      revision += 1;
      expect(await outbox()).toEqual(ids.filter((_, i) => (i + round) % 3 === 0));
    }
    expect((await store.stats('lead')).pending).toBe(ids.filter((_, i) => (i + 2) % 3 === 0).length);
  });

  it('follows records between accounts, including back to one they left, for fan-outs and counts', async () => {
    const store = createMemoryStore();
    await store.commit({ entity: 'contact', records: ['c1', 'c2', 'c3'].map((id) => create(id, { accountId: 'a' })) });
    await store.commit({ entity: 'contact', records: [{ id: 'c1', expectedRevision: 1, accountId: 'b' }, { id: 'c2', expectedRevision: 1, accountId: null }] });
    await store.commit({ entity: 'contact', records: [{ id: 'c1', expectedRevision: 2, accountId: 'a' }] });
    expect(Object.fromEntries(await store.countByAccount('contact', ['a', 'b']))).toEqual({ a: 2 });
    await store.commit({
      entity: 'account',
      fanOuts: [{ entity: 'contact', accountId: 'a', company: { name: 'A' }, log: { fields: { name: 'company.name' }, type: 'change-data-value', source: 'crm', detail: null } }],
    });
    const activities = (await store.listActivities({ limit: 10 })).items;
    expect(activities.map((a) => a.recordId)).toEqual(['c3', 'c1']); // in the order they (last) joined
    const records = await store.getRecords('contact', ['c1', 'c2', 'c3']);
    expect(records.map((r) => [r.id, r.company.name ?? null, r.revision])).toEqual([['c1', 'A', 4], ['c2', null, 2], ['c3', 'A', 2]]);
  });

  it('finds records by a CRM id given later (R14) and no longer by one taken away', async () => {
    const store = createMemoryStore();
    await store.commit({ entity: 'lead', records: [create('local-1', { crmId: null, syncToCrm: true }), create('g1')] });
    await store.commit({ entity: 'lead', records: [{ id: 'local-1', expectedRevision: 1, crmId: 'guid-1' }, { id: 'g1', expectedRevision: 1, crmId: null }] });
    expect((await store.getRecordsByCrmId('lead', ['guid-1', 'g1', 'local-1'])).map((r) => r.id)).toEqual(['local-1']);
    await store.commit({ entity: 'lead', records: [{ id: 'local-1', expectedRevision: 2, crmId: 'guid-2' }, { id: 'g1', expectedRevision: 2, crmId: 'g1' }] });
    expect((await store.getRecordsByCrmId('lead', ['guid-1', 'guid-2', 'g1'])).map((r) => r.id)).toEqual(['local-1', 'g1']);
  });

  it('counts CRM deletes and open quarantine as they change; resolves before it quarantines', async () => {
    const store = createMemoryStore();
    const q = (recordId: string | null) => ({ entity: 'contact', recordId, direction: 'pull' as const, reason: 'bad', payload: null });
    await store.commit({ entity: 'contact', records: [create('c1', { crmDeleted: true }), create('c2')], quarantine: [q('c1'), q('c1'), q(null), q('c2')] });
    expect(await store.stats('contact')).toEqual({ records: 2, pending: 0, crmDeleted: 1, quarantined: 4 });
    await store.commit({
      entity: 'contact', records: [{ id: 'c1', expectedRevision: 1, crmDeleted: false }, { id: 'c2', expectedRevision: 1, crmDeleted: false }],
      resolveQuarantine: ['c1', 'c2'], quarantine: [q('c2')],
    });
    expect(await store.stats('contact')).toEqual({ records: 2, pending: 0, crmDeleted: 0, quarantined: 2 });
    await store.commit({ entity: 'contact', records: [{ id: 'c2', expectedRevision: 2, crmDeleted: true }] });
    expect((await store.stats('contact')).crmDeleted).toBe(1);
    expect((await store.listQuarantine({ limit: 10 })).items.map((e) => e.recordId)).toEqual([null, 'c2']);
    await store.commit({ entity: 'lead', resolveQuarantine: ['c2'] }); // another entity's entries stay open
    expect((await store.stats('contact')).quarantined).toBe(2);
  });

  it('indexes activities by record as they come, for store instances sharing data', async () => {
    const data = createMemoryStoreData();
    const one = createMemoryStore({ data });
    const two = createMemoryStore({ data });
    const log = (recordId: string, detail: string) => ({ entity: 'lead', recordId, type: 'sync-failed' as const, source: 'sync' as const, detail });
    await one.commit({ entity: 'lead', activities: [log('a', '1'), log('b', '2')] });
    expect((await two.listActivities({ limit: 10, entity: 'lead', recordId: 'a' })).items.map((a) => a.detail)).toEqual(['1']);
    await two.commit({ entity: 'lead', activities: [log('a', '3')] });
    await one.commit({ entity: 'lead', activities: [log('a', '4')] });
    const first = await one.listActivities({ limit: 2, entity: 'lead', recordId: 'a' });
    expect(first.items.map((a) => a.detail)).toEqual(['1', '3']);
    const rest = await two.listActivities({ limit: 2, entity: 'lead', recordId: 'a', after: first.next ?? undefined });
    expect(rest).toMatchObject({ items: [{ detail: '4' }], next: null });
  });
});

describe('memory store: same answers as the implementation before the rework', () => {
  const entities = ['contact', 'lead', 'account'];
  const ids = Array.from({ length: 24 }, (_, i) => `r${String(i).padStart(2, '0')}`);
  const accounts = ['acc1', 'acc2', 'acc3'];

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`randomized run ${seed}`, async () => {
      const rnd = prng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
      const chance = (p: number) => rnd() < p;
      const some = <T>(xs: readonly T[], p: number): T[] => xs.filter(() => chance(p));
      const fieldMap = (keys: readonly string[]): FieldMap =>
        Object.fromEntries(some(keys, 0.6).map((k) => [k, pick<string | number | boolean | null>(['x', 'y', 1, 2, true, null])]));

      let time = Date.parse('2026-01-01T00:00:00Z');
      const now = () => new Date(time);
      const stores: [SyncStore, SyncStore] = [createMemoryStore({ now }), createReferenceStore({ now })];
      const both = async <T>(call: (store: SyncStore) => Promise<T>): Promise<unknown[]> =>
        Promise.all(stores.map((s) => call(s).then((v) => ({ ok: v instanceof Map ? Object.fromEntries(v) : v }), (e: unknown) => {
          if (!isSyncError(e)) throw e;
          return { error: e.code, details: e.details };
        })));
      const same = async <T>(call: (store: SyncStore) => Promise<T>): Promise<void> => {
        const [mine, reference] = await both(call);
        expect(mine).toEqual(reference);
      };
      const pages = async (list: (store: SyncStore, after: string | number | undefined) => Promise<{ next: string | number | null }>) => {
        let after: string | number | undefined;
        for (;;) {
          const [mine, reference] = (await both((s) => list(s, after))) as { ok?: { next: string | number | null } }[];
          expect(mine).toEqual(reference);
          const next = mine?.ok?.next ?? null;
          if (next === null) return;
          after = next;
        }
      };
      const revisions = async (entity: string) =>
        new Map((await stores[1].getRecords(entity, ids)).map((r) => [r.id, r.revision]));

      for (let step = 0; step < 150; step++) {
        time += chance(0.2) ? 5_000 : 10;
        const entity = pick(entities);
        if (chance(0.1)) {
          const owner = pick(['a', 'b']);
          await same((s) => s.acquireLease?.(entity, { owner, ttlMs: 1_000 }) ?? Promise.resolve(null));
          continue;
        }
        if (chance(0.03)) {
          const owner = pick(['a', 'b']);
          await same((s) => s.releaseLease?.(entity, owner) ?? Promise.resolve(null));
          continue;
        }
        const current = await revisions(entity);
        const records: RecordWrite[] = some(ids, 0.25).map((id) => {
          const revision = current.get(id) ?? 0;
          const fields = chance(0.8) ? fieldMap(['a', 'b', 'c']) : undefined;
          const w: RecordWrite = { id, expectedRevision: chance(0.05) ? revision + 1 : revision };
          if (fields) w.fields = fields;
          if (chance(0.6)) w.base = chance(0.5) && fields ? fields : fieldMap(['a', 'b']);
          if (chance(0.4)) w.pending = some(['a', 'b', 'c'], 0.3);
          if (revision === 0 || chance(0.15)) w.crmId = pick([id, id, `x-${id}`, null]);
          if (chance(0.3)) w.crmVersion = pick(['1', '2', null]);
          if (chance(0.4)) w.accountId = pick([...accounts, null]);
          if (chance(0.4)) w.company = fieldMap(['name', 'city']);
          else if (chance(0.15)) w.companyFrom = { entity: pick(entities), crmId: pick([...ids, `x-${pick(ids)}`, null]) };
          if (chance(0.15)) w.crmDeleted = chance(0.5);
          if (chance(0.15)) w.syncToCrm = chance(0.5);
          if (chance(0.3)) w.seenIn = pick(['s1', 's2', null]);
          return w;
        });
        if (records.length > 0 && chance(0.03)) records.push({ ...(records[0] as RecordWrite) });
        const batch: StoreBatch = { entity, records };
        if (chance(0.2)) batch.lease = { owner: pick(['a', 'b']), ttlMs: 1_000 };
        if (chance(0.3)) batch.checkpoint = pick([`cp${step}`, null]);
        if (chance(0.2)) batch.state = Object.fromEntries(some(['k1', 'k2', 'k3'], 0.5).map((k) => [k, pick([`v${step}`, null])]));
        if (chance(0.25)) {
          batch.fanOuts = Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => ({
            entity: pick(['contact', 'lead']), accountId: pick(accounts), company: fieldMap(['name', 'city']),
            ...(chance(0.7) ? {
              log: {
                fields: Object.fromEntries(some(['name', 'city'], 0.5).map((k) => [k, `company.${k}`])), type: pick(['change-data-value', 'collision'] as const),
                source: pick(['crm', 'local'] as const), detail: pick(['d', null]),
              },
            } : {}),
          }));
        }
        if (chance(0.4)) {
          batch.activities = some(ids, 0.1).map((id) => ({
            entity, recordId: id, type: 'change-data-value' as const, source: 'crm' as const, field: 'a', oldValue: pick(['x', null]), newValue: 'y',
          }));
        }
        if (chance(0.2)) batch.collisions = some(ids, 0.1).map((id) => ({ entity, recordId: id, field: 'b', localValue: 1, crmValue: 2, winner: pick(['local', 'crm'] as const) }));
        if (chance(0.3)) {
          batch.quarantine = some([...ids, null], 0.1).map((id) => ({ entity, recordId: id, direction: pick(['pull', 'push'] as const), reason: 'bad', payload: { step } }));
        }
        if (chance(0.4)) batch.resolveQuarantine = some(ids, 0.3);
        if (chance(0.3)) batch.resolveDirection = pick(['pull', 'push'] as const);
        await same((s) => s.commit(structuredClone(batch)));

        if (step % 10 !== 9) continue;
        for (const e of entities) {
          const limit = 1 + Math.floor(rnd() * 6);
          await pages((s, after) => s.listRecords(e, { limit, ...(after !== undefined ? { after } : {}) }));
          await same((s) => s.listRecords(e, { limit: 100, where: { a: 'x' } }));
          await pages((s, after) => s.listOutbox(e, { limit, ...(after !== undefined ? { after } : {}) }));
          await pages((s, after) => s.listUnseen(e, 's1', { limit, ...(after !== undefined ? { after } : {}) }));
          await same((s) => s.getRecords(e, [...ids, 'missing']));
          await same((s) => s.getRecordsByCrmId(e, [...ids, ...ids.map((id) => `x-${id}`), 'missing']));
          await same((s) => s.countByAccount(e, [...accounts, 'none']));
          await same((s) => s.stats(e));
          await same((s) => s.getCheckpoint(e));
          await pages((s, after) => s.listActivities({ limit: 7, entity: e, ...(after !== undefined ? { after } : {}) }));
          await pages((s, after) => s.listCollisions({ limit: 5, entity: e, ...(after !== undefined ? { after } : {}) }));
          await pages((s, after) => s.listQuarantine({ limit: 3, entity: e, ...(after !== undefined ? { after } : {}) }));
          for (const id of some(ids, 0.3)) await same((s) => s.listActivities({ limit: 100, entity: e, recordId: id }));
        }
        await pages((s, after) => s.listActivities({ limit: 11, ...(after !== undefined ? { after } : {}) }));
        await pages((s, after) => s.listQuarantine({ limit: 4, includeResolved: true, ...(after !== undefined ? { after } : {}) }));
        for (const key of ['k1', 'k2', 'k3']) await same((s) => s.getState(key));
      }
      // The comparisons above say something only if the run left records and logs behind (two empty answers are equal too).
      for (const e of entities) expect((await stores[0].listRecords(e, { limit: 1 })).items, e).toHaveLength(1);
      expect((await stores[0].listActivities({ limit: 1 })).items).toHaveLength(1);
      expect((await stores[0].listCollisions({ limit: 1 })).items).toHaveLength(1);
      expect((await stores[0].listQuarantine({ limit: 1, includeResolved: true })).items).toHaveLength(1);
    });
  }
});
