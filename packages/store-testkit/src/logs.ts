import { expect } from 'vitest';
import { newRecord, uid } from './context.js';
import type { TestContext } from './types.js';

export const logTests = (ctx: TestContext) => ({
  'commit(activities) appends activities in order with seq and time, filterable by entity and record': () =>
    ctx.withStore(async (store) => {
      const a = uid();
      const b = uid();
      await store.commit({
        entity: 'contact',
        activities: [
          { entity: 'contact', recordId: a, type: 'change-data-value', source: 'crm', field: 'email', oldValue: 'x', newValue: 'y' },
          { entity: 'contact', recordId: b, type: 'crm-deleted', source: 'crm' },
        ],
      });
      await store.commit({ entity: 'lead', activities: [{ entity: 'lead', recordId: a, type: 'sync-failed', source: 'sync', detail: 'why' }] });
      const all = (await store.listActivities({ limit: 10 })).items;
      expect(all.map((x) => x.type)).toEqual(['change-data-value', 'crm-deleted', 'sync-failed']);
      expect(all[0]).toMatchObject({ entity: 'contact', recordId: a, field: 'email', oldValue: 'x', newValue: 'y', source: 'crm', detail: null });
      expect(all[1]).toMatchObject({ field: null, oldValue: null, newValue: null });
      expect(all[2]?.detail).toBe('why');
      const seqs = all.map((x) => x.seq);
      expect([...seqs].sort((p, q) => p - q)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(3);
      expect(all.every((x) => !Number.isNaN(Date.parse(x.at)))).toBe(true);
      expect((await store.listActivities({ limit: 10, entity: 'contact', recordId: a })).items).toHaveLength(1);
      expect((await store.listActivities({ limit: 10, entity: 'lead' })).items).toHaveLength(1);
      const first = await store.listActivities({ limit: 2 });
      const rest = await store.listActivities({ limit: 2, after: first.next ?? undefined });
      expect(rest.items.map((x) => x.type)).toEqual(['sync-failed']);
      expect(rest.next).toBeNull();
    }),

  'commit(records, activities) of a page of new records logs each New Person activity as given, in the order given': () =>
    ctx.withStore(async (store) => {
      const ids = Array.from({ length: 8 }, () => uid());
      const [r1, r2, r3, r4, r5, r6, r7, r8] = ids as [string, string, string, string, string, string, string, string];
      const newPerson = (recordId: string, more: object = {}) => ({ entity: 'contact', recordId, type: 'new-person' as const, source: 'crm' as const, ...more });
      // One per record in the records' order (a page of an initial load) ...
      await store.commit({ entity: 'contact', records: [r1, r2, r3].map((id) => newRecord(id)), activities: [r1, r2, r3].map((id) => newPerson(id)) });
      // ... in another order, with a detail, or mixed with another type: each kept exactly as given.
      await store.commit({ entity: 'contact', records: [r4, r5].map((id) => newRecord(id)), activities: [newPerson(r5), newPerson(r4)] });
      await store.commit({ entity: 'contact', records: [newRecord(r6)], activities: [newPerson(r6, { detail: 'from a form' })] });
      await store.commit({ entity: 'contact', records: [r7, r8].map((id) => newRecord(id)), activities: [newPerson(r7), { entity: 'contact', recordId: r8, type: 'crm-deleted', source: 'crm' }] });
      const all = (await store.listActivities({ limit: 20 })).items;
      expect(all.map((a) => a.recordId)).toEqual([r1, r2, r3, r5, r4, r6, r7, r8]);
      expect(all.map((a) => a.type)).toEqual([...Array(7).fill('new-person'), 'crm-deleted']);
      expect(all[0]).toMatchObject({ entity: 'contact', recordId: r1, type: 'new-person', source: 'crm', field: null, oldValue: null, newValue: null, detail: null });
      expect(all[5]?.detail).toBe('from a form');
      const seqs = all.map((a) => a.seq);
      expect([...seqs].sort((p, q) => p - q)).toEqual(seqs);
      expect((await store.listActivities({ limit: 10, entity: 'contact', recordId: r2 })).items.map((a) => a.type)).toEqual(['new-person']);
    }),

  'commit(collisions) records the record, field, both values and the winner': () =>
    ctx.withStore(async (store) => {
      const id = uid();
      await store.commit({
        entity: 'lead',
        collisions: [{ entity: 'lead', recordId: id, field: 'jobtitle', localValue: 'CMO', crmValue: 'CTO', winner: 'local' }],
      });
      const [collision] = (await store.listCollisions({ limit: 10, entity: 'lead' })).items;
      expect(collision).toMatchObject({ entity: 'lead', recordId: id, field: 'jobtitle', localValue: 'CMO', crmValue: 'CTO', winner: 'local' });
      expect(typeof collision?.seq).toBe('number');
      expect((await store.listCollisions({ limit: 10, entity: 'contact' })).items).toEqual([]);
    }),

  'commit(quarantine) keeps the reason and payload; resolveQuarantine closes entries of a record': () =>
    ctx.withStore(async (store) => {
      const id = uid();
      await store.commit({
        entity: 'contact',
        quarantine: [
          { entity: 'contact', recordId: id, direction: 'pull', reason: 'numberofemployees: expected a number', payload: { numberofemployees: 'many' } },
          { entity: 'contact', recordId: null, direction: 'pull', reason: 'row without a key', payload: { junk: true } },
        ],
      });
      let open = (await store.listQuarantine({ limit: 10 })).items;
      expect(open.map((q) => q.reason)).toEqual(['numberofemployees: expected a number', 'row without a key']);
      expect(open[0]?.payload).toEqual({ numberofemployees: 'many' });
      expect(open[0]?.resolvedAt).toBeNull();
      await store.commit({ entity: 'contact', records: [newRecord(id)], resolveQuarantine: [id] });
      open = (await store.listQuarantine({ limit: 10 })).items;
      expect(open.map((q) => q.recordId)).toEqual([null]);
      const all = (await store.listQuarantine({ limit: 10, includeResolved: true })).items;
      expect(all).toHaveLength(2);
      expect(all.find((q) => q.recordId === id)?.resolvedAt).not.toBeNull();
    }),

  'resolveQuarantine closes the entries before its batch, not those the batch adds': () =>
    ctx.withStore(async (store) => {
      const id = uid();
      const entry = (reason: string) => ({ entity: 'contact', recordId: id, direction: 'push' as const, reason, payload: null });
      await store.commit({ entity: 'contact', records: [newRecord(id)], quarantine: [entry('refused')] });
      await store.commit({ entity: 'contact', quarantine: [entry('one field refused')], resolveQuarantine: [id] });
      const all = (await store.listQuarantine({ limit: 10, includeResolved: true })).items;
      expect(all.map((q) => [q.reason, q.resolvedAt === null])).toEqual([['refused', false], ['one field refused', true]]);
    }),

  'resolveDirection limits resolveQuarantine to the entries of one direction': () =>
    ctx.withStore(async (store) => {
      const id = uid();
      const entry = (direction: 'pull' | 'push') => ({ entity: 'contact', recordId: id, direction, reason: `${direction} refused`, payload: null });
      await store.commit({ entity: 'contact', records: [newRecord(id)], quarantine: [entry('pull'), entry('push')] });
      await store.commit({ entity: 'contact', resolveQuarantine: [id], resolveDirection: 'pull' });
      const open = async () => (await store.listQuarantine({ limit: 10 })).items.map((q) => q.direction);
      expect(await open()).toEqual(['push']);
      expect((await store.stats('contact')).quarantined).toBe(1);
      await store.commit({ entity: 'contact', resolveQuarantine: [id], resolveDirection: 'push' });
      expect(await open()).toEqual([]);
      expect((await store.stats('contact')).quarantined).toBe(0);
    }),

  'values keep their types through the store (string, number, boolean, null)': () =>
    ctx.withStore(async (store) => {
      const id = uid();
      const fields = { s: 'text with \'quotes\' and "double"', n: 1234.5, z: 0, t: true, f: false, nil: null, big: 9007199254740991 };
      await store.commit({ entity: 'account', records: [newRecord(id, { fields, base: fields })] });
      const [record] = await store.getRecords('account', [id]);
      expect(record?.fields).toEqual(fields);
      expect(record?.base).toEqual(fields);
    }),
});
