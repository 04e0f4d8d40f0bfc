import { isSyncError, SyncError } from '@crm-sync/core';
import { expect } from 'vitest';
import { newRecord, rejection, uid } from './context.js';
import type { TestContext } from './types.js';

export const recordTests = (ctx: TestContext) => ({
  'commit(records) creates a record at revision 1 that getRecords() returns': () =>
    ctx.withStore(async (store, raw) => {
      const id = uid();
      await store.commit({ entity: 'contact', records: [newRecord(id, { fields: { firstname: 'Ada' }, base: { firstname: 'Ada' } })] });
      const [record] = await store.getRecords('contact', [id]);
      expect(record).toMatchObject({
        entity: 'contact', id, crmId: id, crmVersion: '1', revision: 1, fields: { firstname: 'Ada' }, base: { firstname: 'Ada' },
        pending: [], accountId: null, company: {}, crmDeleted: false, syncToCrm: false, seenIn: null,
      });
      expect(Number.isNaN(Date.parse(record?.updatedAt ?? ''))).toBe(false);
      if (raw) expect(await raw.readRecord('contact', id)).toMatchObject({ id, revision: 1, fields: { firstname: 'Ada' } });
    }),

  'commit(records) merges fields, base and company key by key and keeps omitted members': () =>
    ctx.withStore(async (store, raw) => {
      const id = uid();
      await store.commit({
        entity: 'contact',
        records: [newRecord(id, { fields: { a: 1, b: 'x' }, base: { a: 1 }, company: { name: 'Acme' }, accountId: 'acc', pending: ['b'] })],
      });
      await store.commit({ entity: 'contact', records: [{ id, expectedRevision: 1, fields: { b: 'y', c: null }, company: { city: 'Oslo' } }] });
      const [record] = await store.getRecords('contact', [id]);
      expect(record?.fields).toEqual({ a: 1, b: 'y', c: null });
      expect(record?.base).toEqual({ a: 1 });
      expect(record?.company).toEqual({ name: 'Acme', city: 'Oslo' });
      expect(record?.accountId).toBe('acc');
      expect(record?.pending).toEqual(['b']);
      expect(record?.revision).toBe(2);
      if (raw) expect((await raw.readRecord('contact', id))?.fields).toEqual({ a: 1, b: 'y', c: null });
    }),

  'commit(records) stores base and fields given as one object (a record read from the CRM) as two values': () =>
    ctx.withStore(async (store) => {
      const id = uid();
      const read = { a: 1, b: 'x' };
      await store.commit({ entity: 'contact', records: [newRecord(id, { fields: read, base: read })] });
      const update = { b: 'y' };
      await store.commit({ entity: 'contact', records: [{ id, expectedRevision: 1, fields: update, base: update }] });
      await store.commit({ entity: 'contact', records: [{ id, expectedRevision: 2, fields: { a: 2 } }] });
      const [record] = await store.getRecords('contact', [id]);
      expect(record?.fields).toEqual({ a: 2, b: 'y' });
      expect(record?.base).toEqual({ a: 1, b: 'y' });
      // Base and fields as separate objects, and base alone, after a shared one.
      const other = uid();
      const shared = { a: 1, b: 'x' };
      await store.commit({ entity: 'contact', records: [newRecord(other, { fields: shared, base: shared })] });
      await store.commit({ entity: 'contact', records: [{ id: other, expectedRevision: 1, fields: { a: 5 }, base: { a: 2 } }] });
      await store.commit({ entity: 'contact', records: [{ id: other, expectedRevision: 2, base: { b: 'z' } }] });
      const [separate] = await store.getRecords('contact', [other]);
      expect(separate?.fields).toEqual({ a: 5, b: 'x' });
      expect(separate?.base).toEqual({ a: 2, b: 'z' });
      const third = uid();
      await store.commit({ entity: 'contact', records: [newRecord(third, { fields: shared, base: shared })] });
      await store.commit({ entity: 'contact', records: [{ id: third, expectedRevision: 1, base: { b: 'q' } }] });
      const [baseOnly] = await store.getRecords('contact', [third]);
      expect(baseOnly?.fields).toEqual({ a: 1, b: 'x' });
      expect(baseOnly?.base).toEqual({ a: 1, b: 'q' });
    }),

  'commit(records) with companyFrom copies the fields of the stored record it names into company, read as it commits': () =>
    ctx.withStore(async (store) => {
      const [acme, beta, contact, orphan] = [uid('acc'), uid('acc'), uid(), uid()];
      await store.commit({
        entity: 'account',
        records: [newRecord(acme, { fields: { name: 'Acme', city: 'Oslo' } }), newRecord(beta, { fields: { name: 'Beta' } })],
      });
      await store.commit({
        entity: 'contact',
        records: [
          newRecord(contact, { accountId: acme, companyFrom: { entity: 'account', crmId: acme } }),
          newRecord(orphan, { accountId: uid('acc'), companyFrom: { entity: 'account', crmId: uid('acc') } }),
        ],
      });
      const [linked, unknown] = await store.getRecords('contact', [contact, orphan]);
      expect(linked).toMatchObject({ accountId: acme, company: { name: 'Acme', city: 'Oslo' } });
      expect(unknown?.company).toEqual({});
      // Moved to another account: its values replace the old ones, nothing of the old one is left.
      await store.commit({ entity: 'contact', records: [{ id: contact, expectedRevision: 1, accountId: beta, companyFrom: { entity: 'account', crmId: beta } }] });
      const [moved] = await store.getRecords('contact', [contact]);
      expect(moved).toMatchObject({ accountId: beta, company: { name: 'Beta' }, revision: 2 });
      expect(moved?.company).toEqual({ name: 'Beta' });
      // No account any more (its parent is now a contact): the same empty company as a record that never had one.
      await store.commit({ entity: 'contact', records: [{ id: contact, expectedRevision: 2, accountId: null, companyFrom: { entity: 'account', crmId: null } }] });
      const [unlinked] = await store.getRecords('contact', [contact]);
      expect(unlinked).toMatchObject({ accountId: null, revision: 3 });
      expect(unlinked?.company).toEqual(unknown?.company);
      expect(unlinked?.company).toEqual({});
    }),

  'commit(records) with companyFrom reads the entity it names, whichever it is': () =>
    ctx.withStore(async (store) => {
      const [region, contact, other] = [uid('reg'), uid(), uid()];
      // The same CRM id under another entity is not the record named.
      await store.commit({ entity: 'region', records: [newRecord(region, { fields: { name: 'North' } })] });
      await store.commit({ entity: 'account', records: [newRecord(region, { fields: { name: 'Not this one' } })] });
      await store.commit({
        entity: 'contact',
        records: [
          newRecord(contact, { accountId: region, companyFrom: { entity: 'region', crmId: region } }),
          newRecord(other, { companyFrom: { entity: 'nothing-here', crmId: region } }),
        ],
      });
      const [linked, none] = await store.getRecords('contact', [contact, other]);
      expect(linked?.company).toEqual({ name: 'North' });
      expect(none?.company).toEqual({});
    }),

  'commit(records) replaces the pending list and the flags when given': () =>
    ctx.withStore(async (store) => {
      const id = uid();
      await store.commit({ entity: 'lead', records: [newRecord(id, { pending: ['a', 'b'] })] });
      await store.commit({ entity: 'lead', records: [{ id, expectedRevision: 1, pending: ['c'], crmDeleted: true, syncToCrm: true, seenIn: 's1', crmVersion: '9' }] });
      const [record] = await store.getRecords('lead', [id]);
      expect(record).toMatchObject({ pending: ['c'], crmDeleted: true, syncToCrm: true, seenIn: 's1', crmVersion: '9' });
    }),

  'commit(records) rejects a stale revision with STORE_CONFLICT and writes nothing of the batch': () =>
    ctx.withStore(async (store, raw) => {
      const a = uid();
      const b = uid();
      await store.commit({ entity: 'contact', records: [newRecord(a), newRecord(b)], checkpoint: 'cp1' });
      const error = await rejection(
        store.commit({
          entity: 'contact',
          records: [
            { id: a, expectedRevision: 1, fields: { x: 'new' } },
            { id: b, expectedRevision: 7, fields: { x: 'new' } },
          ],
          checkpoint: 'cp2',
          activities: [{ entity: 'contact', recordId: a, type: 'change-data-value', source: 'crm', field: 'x', newValue: 'new' }],
          collisions: [{ entity: 'contact', recordId: a, field: 'x', localValue: 1, crmValue: 2, winner: 'crm' }],
          state: { k: 'v' },
        }),
      );
      expect(isSyncError(error, 'STORE_CONFLICT')).toBe(true);
      expect((error as { details: { ids?: string[] } }).details.ids).toEqual([b]);
      const records = await store.getRecords('contact', [a, b]);
      expect(records.map((r) => [r.revision, r.fields])).toEqual([[1, {}], [1, {}]]);
      expect(await store.getCheckpoint('contact')).toBe('cp1');
      expect(await store.getState('k')).toBeNull();
      expect((await store.listActivities({ limit: 10 })).items).toEqual([]);
      expect((await store.listCollisions({ limit: 10 })).items).toEqual([]);
      if (raw) {
        expect(await raw.readCheckpoint('contact')).toBe('cp1');
        expect(await raw.countActivities()).toBe(0);
      }
    }),

  'commit(records) rejects creating an id that exists with STORE_CONFLICT, naming it, and writes nothing of the batch': () =>
    ctx.withStore(async (store) => {
      const id = uid();
      const other = uid();
      await store.commit({ entity: 'lead', records: [newRecord(id)], checkpoint: 'cp1' });
      // A batch of new records only (a page of a first load) with one id taken after all.
      const error = await rejection(
        store.commit({
          entity: 'lead',
          records: [newRecord(other), newRecord(id, { fields: { x: 'again' } })],
          checkpoint: 'cp2',
          activities: [{ entity: 'lead', recordId: other, type: 'new-person', source: 'crm' }],
        }),
      );
      expect(isSyncError(error, 'STORE_CONFLICT')).toBe(true);
      expect((error as { details: { ids?: string[] } }).details.ids).toEqual([id]);
      expect((await store.getRecords('lead', [other, id])).map((r) => [r.id, r.fields])).toEqual([[id, {}]]);
      expect(await store.getCheckpoint('lead')).toBe('cp1');
      expect((await store.listActivities({ limit: 10 })).items).toEqual([]);
    }),

  'commit(records) writes a batch of new records with every column given': () =>
    ctx.withStore(async (store) => {
      const [a, b] = [uid(), uid()];
      const fields = { name: 'Ada', score: 3, tags: null };
      await store.commit({
        entity: 'contact',
        records: [
          { id: a, expectedRevision: 0, crmId: `crm-${a}`, crmVersion: '5', fields, base: fields, pending: ['name'], accountId: 'acc-1',
            company: { city: 'Oslo' }, crmDeleted: true, syncToCrm: true, seenIn: 'snap-1' },
          { id: b, expectedRevision: 0, fields: { name: 'Bo' }, base: { name: 'B' } },
        ],
        activities: [{ entity: 'contact', recordId: a, type: 'change-data-value', source: 'local', field: 'name', oldValue: null, newValue: 'Ada', detail: 'why' }],
      });
      const [ra, rb] = await store.getRecords('contact', [a, b]);
      expect(ra).toMatchObject({
        revision: 1, crmId: `crm-${a}`, crmVersion: '5', fields, base: fields, pending: ['name'], accountId: 'acc-1',
        company: { city: 'Oslo' }, crmDeleted: true, syncToCrm: true, seenIn: 'snap-1',
      });
      expect(rb).toMatchObject({
        revision: 1, crmId: null, crmVersion: null, fields: { name: 'Bo' }, base: { name: 'B' }, pending: [], accountId: null,
        company: {}, crmDeleted: false, syncToCrm: false, seenIn: null,
      });
      expect((await store.listActivities({ limit: 10 })).items).toMatchObject([
        { entity: 'contact', recordId: a, type: 'change-data-value', source: 'local', field: 'name', oldValue: null, newValue: 'Ada', detail: 'why' },
      ]);
    }),

  'commit(batch, { after }) makes nothing visible before the commit it follows, then all of it, in order': () =>
    ctx.withStore(async (store) => {
      const [a, b] = [uid(), uid()];
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const first = gate.then(() =>
        store.commit({ entity: 'contact', records: [newRecord(a)], checkpoint: 'cp1', activities: [{ entity: 'contact', recordId: a, type: 'new-person', source: 'crm' }] }),
      );
      const second = store.commit(
        { entity: 'contact', records: [newRecord(b)], checkpoint: 'cp2', activities: [{ entity: 'contact', recordId: b, type: 'new-person', source: 'crm' }] },
        { after: first },
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await store.getRecords('contact', [a, b])).toEqual([]);
      expect(await store.getCheckpoint('contact')).toBeNull();
      release();
      await second;
      expect((await store.getRecords('contact', [a, b])).map((r) => r.id)).toEqual([a, b]);
      expect(await store.getCheckpoint('contact')).toBe('cp2');
      expect((await store.listActivities({ limit: 10 })).items.map((x) => x.recordId)).toEqual([a, b]);
    }),

  'commit(batch, { after }) writes nothing and rejects with its error when the commit it follows fails': () =>
    ctx.withStore(async (store) => {
      const b = uid();
      const earlier = new SyncError('STORE_UNAVAILABLE', 'the page before failed');
      const failed = Promise.reject(earlier);
      failed.catch(() => {});
      const error = await rejection(store.commit({ entity: 'contact', records: [newRecord(b)], checkpoint: 'cp2' }, { after: failed }));
      expect(error).toBe(earlier);
      expect(await store.getRecords('contact', [b])).toEqual([]);
      expect(await store.getCheckpoint('contact')).toBeNull();
      // The store goes on: the same batch commits on its own.
      await store.commit({ entity: 'contact', records: [newRecord(b)], checkpoint: 'cp2' });
      expect(await store.getCheckpoint('contact')).toBe('cp2');
    }),

  'commit(records) rejects an update of a missing record with STORE_CONFLICT': () =>
    ctx.withStore(async (store) => {
      const error = await rejection(store.commit({ entity: 'lead', records: [{ id: uid(), expectedRevision: 1, fields: { a: 1 } }] }));
      expect(isSyncError(error, 'STORE_CONFLICT')).toBe(true);
    }),

  'commit(records) rejects the same id twice in one batch with STORE_BATCH_INVALID': () =>
    ctx.withStore(async (store) => {
      const id = uid();
      const error = await rejection(store.commit({ entity: 'lead', records: [newRecord(id), newRecord(id)] }));
      expect(isSyncError(error, 'STORE_BATCH_INVALID')).toBe(true);
      expect(await store.getRecords('lead', [id])).toEqual([]);
    }),

  'getRecords() and getRecordsByCrmId() omit missing ids and keep entities apart': () =>
    ctx.withStore(async (store) => {
      const id = uid();
      const local = uid('local');
      await store.commit({ entity: 'contact', records: [newRecord(id)] });
      await store.commit({ entity: 'lead', records: [newRecord(id), newRecord(local, { crmId: null, syncToCrm: true })] });
      expect((await store.getRecords('contact', [id, 'missing'])).map((r) => r.entity)).toEqual(['contact']);
      expect((await store.getRecordsByCrmId('lead', [id, 'missing'])).map((r) => r.id)).toEqual([id]);
      expect(await store.getRecordsByCrmId('account', [id])).toEqual([]);
      expect((await store.getRecords('lead', [local]))[0]?.crmId).toBeNull();
    }),

  'commit(records) can attach a CRM id to a local record later (R14)': () =>
    ctx.withStore(async (store) => {
      const local = uid('local');
      await store.commit({ entity: 'lead', records: [newRecord(local, { crmId: null, syncToCrm: true })] });
      await store.commit({ entity: 'lead', records: [{ id: local, expectedRevision: 1, crmId: 'crm-guid-1', crmVersion: '5' }] });
      expect((await store.getRecordsByCrmId('lead', ['crm-guid-1'])).map((r) => r.id)).toEqual([local]);
    }),

  'listRecords() pages by id and filters on exact field values': () =>
    ctx.withStore(async (store) => {
      const ids = ['b', 'a', 'd', 'c', 'e'].map((s) => `${uid()}-${s}`);
      await store.commit({
        entity: 'account',
        records: ids.map((id, i) => newRecord(id, { fields: { tier: i % 2 === 0 ? 'gold' : 'silver', n: i } })),
      });
      const sorted = [...ids].sort();
      const first = await store.listRecords('account', { limit: 2 });
      expect(first.items.map((r) => r.id)).toEqual(sorted.slice(0, 2));
      const second = await store.listRecords('account', { limit: 2, after: first.next ?? undefined });
      expect(second.items.map((r) => r.id)).toEqual(sorted.slice(2, 4));
      const last = await store.listRecords('account', { limit: 2, after: second.next ?? undefined });
      expect(last.items.map((r) => r.id)).toEqual(sorted.slice(4));
      expect(last.next).toBeNull();
      const gold = await store.listRecords('account', { limit: 10, where: { tier: 'gold' } });
      expect(gold.items.map((r) => r.id).sort()).toEqual([ids[0], ids[2], ids[4]].sort());
      const byNumber = await store.listRecords('account', { limit: 10, where: { n: 3 } });
      expect(byNumber.items.map((r) => r.id)).toEqual([ids[3]]);
    }),

  'stats() counts records, pending, CRM-deleted and open quarantine per entity': () =>
    ctx.withStore(async (store) => {
      await store.commit({
        entity: 'lead',
        records: [newRecord(uid(), { pending: ['a'] }), newRecord(uid(), { crmDeleted: true }), newRecord(uid())],
        quarantine: [{ entity: 'lead', recordId: 'x', direction: 'pull', reason: 'bad', payload: {} }],
      });
      await store.commit({ entity: 'contact', records: [newRecord(uid())] });
      expect(await store.stats('lead')).toEqual({ records: 3, pending: 1, crmDeleted: 1, quarantined: 1 });
      expect(await store.stats('contact')).toEqual({ records: 1, pending: 0, crmDeleted: 0, quarantined: 0 });
    }),

  'commit(deletes) removes records from every read and count, keeps their logs, and the id can be created anew': () =>
    ctx.withStore(async (store, raw) => {
      const [kept, pending, deleted, local] = [uid(), uid(), uid(), uid()];
      const account = uid('acc');
      await store.commit({
        entity: 'contact',
        records: [
          newRecord(kept, { accountId: account }),
          newRecord(pending, { accountId: account, pending: ['jobtitle'], fields: { jobtitle: 'CTO' } }),
          newRecord(deleted, { crmDeleted: true }),
          // A local person created in the CRM later: its CRM id differs from its id.
          newRecord(local, { crmId: uid('crm'), pending: ['firstname'] }),
        ],
        activities: [{ entity: 'contact', recordId: pending, type: 'new-person', source: 'crm' }],
        quarantine: [{ entity: 'contact', recordId: pending, direction: 'push', reason: 'refused', payload: null }],
      });
      const [localRecord] = await store.getRecords('contact', [local]);
      await store.commit({
        entity: 'contact',
        deletes: [{ id: pending, expectedRevision: 1 }, { id: deleted, expectedRevision: 1 }, { id: local, expectedRevision: 1 }],
        activities: [{ entity: 'contact', recordId: pending, type: 'local-deleted', source: 'local' }],
        resolveQuarantine: [pending],
      });
      expect(await store.getRecords('contact', [kept, pending, deleted, local])).toEqual([expect.objectContaining({ id: kept })]);
      expect(await store.getRecordsByCrmId('contact', [pending, localRecord?.crmId as string])).toEqual([]);
      expect((await store.listRecords('contact', { limit: 10 })).items.map((r) => r.id)).toEqual([kept]);
      expect((await store.listOutbox('contact', { limit: 10 })).items).toEqual([]);
      expect((await store.listUnseen('contact', 'snapshot', { limit: 10 })).items.map((r) => r.id)).toEqual([kept]);
      expect(await store.countByAccount('contact', [account])).toEqual(new Map([[account, 1]]));
      expect(await store.stats('contact')).toEqual({ records: 1, pending: 0, crmDeleted: 0, quarantined: 0 });
      expect((await store.listActivities({ limit: 10, entity: 'contact', recordId: pending })).items.map((a) => a.type)).toEqual(['new-person', 'local-deleted']);
      if (raw) expect((await raw.readRecord('contact', pending)) ?? null).toBeNull();
      // The same id again (the CRM sent the row again): a new record at revision 1.
      await store.commit({ entity: 'contact', records: [newRecord(pending, { fields: { jobtitle: 'Back' } })] });
      expect((await store.getRecords('contact', [pending]))[0]).toMatchObject({ revision: 1, fields: { jobtitle: 'Back' }, pending: [], accountId: null });
      expect((await store.listRecords('contact', { limit: 10 })).items.map((r) => r.id)).toEqual([kept, pending].sort());
    }),

  'commit(deletes) at a stale revision, or of a record that does not exist, is a STORE_CONFLICT and writes nothing of the batch': () =>
    ctx.withStore(async (store) => {
      const [a, b] = [uid(), uid()];
      await store.commit({ entity: 'lead', records: [newRecord(a), newRecord(b)] });
      await store.commit({ entity: 'lead', records: [{ id: a, expectedRevision: 1, fields: { x: 1 } }] });
      for (const deletes of [[{ id: b, expectedRevision: 1 }, { id: a, expectedRevision: 1 }], [{ id: b, expectedRevision: 1 }, { id: uid(), expectedRevision: 1 }]]) {
        const error = await rejection(store.commit({ entity: 'lead', deletes, activities: [{ entity: 'lead', recordId: b, type: 'local-deleted', source: 'local' }] }));
        expect(isSyncError(error, 'STORE_CONFLICT')).toBe(true);
        expect((await store.getRecords('lead', [a, b])).map((r) => r.id).sort()).toEqual([a, b].sort());
        expect((await store.listActivities({ limit: 10, entity: 'lead', recordId: b })).items).toEqual([]);
      }
      const both = await rejection(store.commit({ entity: 'lead', records: [{ id: b, expectedRevision: 1, fields: { y: 1 } }], deletes: [{ id: b, expectedRevision: 1 }] }));
      expect(isSyncError(both, 'STORE_BATCH_INVALID')).toBe(true);
      expect(await store.stats('lead')).toMatchObject({ records: 2 });
    }),
});
