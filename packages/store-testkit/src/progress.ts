import { expect } from 'vitest';
import { newRecord, uid } from './context.js';
import type { TestContext } from './types.js';

export const progressTests = (ctx: TestContext) => ({
  'getCheckpoint(entity) returns null when never set': () =>
    ctx.withStore(async (store) => {
      expect(await store.getCheckpoint('contact')).toBeNull();
    }),

  'commit(checkpoint) stores the checkpoint with its page, per entity': () =>
    ctx.withStore(async (store, raw) => {
      await store.commit({ entity: 'contact', records: [newRecord(uid())], checkpoint: 'delta-1' });
      await store.commit({ entity: 'account', checkpoint: 'acc-1' });
      expect(await store.getCheckpoint('contact')).toBe('delta-1');
      expect(await store.getCheckpoint('account')).toBe('acc-1');
      if (raw) expect(await raw.readCheckpoint('contact')).toBe('delta-1');
    }),

  'commit() without a checkpoint leaves it; null clears it': () =>
    ctx.withStore(async (store) => {
      await store.commit({ entity: 'lead', checkpoint: 'cp' });
      await store.commit({ entity: 'lead', records: [newRecord(uid())] });
      expect(await store.getCheckpoint('lead')).toBe('cp');
      await store.commit({ entity: 'lead', checkpoint: null });
      expect(await store.getCheckpoint('lead')).toBeNull();
    }),

  'commit(state) stores engine state by key; null deletes it': () =>
    ctx.withStore(async (store) => {
      expect(await store.getState('fields:contact')).toBeNull();
      await store.commit({ entity: 'contact', state: { 'fields:contact': '["a"]', other: 'x' } });
      expect(await store.getState('fields:contact')).toBe('["a"]');
      await store.commit({ entity: 'contact', state: { other: null } });
      expect(await store.getState('other')).toBeNull();
      expect(await store.getState('fields:contact')).toBe('["a"]');
    }),

  'listState(prefix) returns the state under keys starting with the prefix, taken literally (optional)': () =>
    ctx.withStore(async (store) => {
      if (!store.listState) return; // optional: the engine falls back to this runner's own keys
      const p = `requests:${uid()}:`;
      expect(await store.listState(p)).toEqual({});
      await store.commit({ entity: 'contact', state: { [`${p}a`]: '1', [`${p}b`]: '2', [`${p.slice(0, -1)}`]: 'no', [`${p.slice(0, -1)}_:x`]: 'no' } });
      const found = await store.listState(p);
      expect(found).toEqual({ [`${p}a`]: '1', [`${p}b`]: '2' });
      expect(Object.keys(found)).toHaveLength(2);
      // `_` and `%` are no wildcards.
      expect(await store.listState(`${p.slice(0, -2)}_:`)).toEqual({});
      expect(await store.listState(`${p.slice(0, -2)}%`)).toEqual({});
      await store.commit({ entity: 'contact', state: { [`${p}a`]: null } });
      expect(await store.listState(p)).toEqual({ [`${p}b`]: '2' });
    }),

  'listOutbox(entity) returns records with pending fields and local persons marked for sync, by id': () =>
    ctx.withStore(async (store) => {
      const dirty = `${uid()}-a`;
      const unsynced = `${uid()}-b`;
      const clean = `${uid()}-c`;
      const localOnly = `${uid()}-d`;
      await store.commit({
        entity: 'lead',
        records: [
          newRecord(dirty, { pending: ['emailaddress1'] }),
          newRecord(unsynced, { crmId: null, syncToCrm: true }),
          newRecord(clean),
          newRecord(localOnly, { crmId: null, syncToCrm: false }),
        ],
      });
      await store.commit({ entity: 'contact', records: [newRecord(uid(), { pending: ['x'] })] });
      const outbox = await store.listOutbox('lead', { limit: 10 });
      expect(outbox.items.map((r) => r.id)).toEqual([dirty, unsynced].sort());
      expect(outbox.next).toBeNull();
      const first = await store.listOutbox('lead', { limit: 1 });
      const second = await store.listOutbox('lead', { limit: 1, after: first.next ?? undefined });
      expect([...first.items, ...second.items].map((r) => r.id)).toEqual([dirty, unsynced].sort());
      await store.commit({ entity: 'lead', records: [{ id: dirty, expectedRevision: 1, pending: [] }] });
      expect((await store.listOutbox('lead', { limit: 10 })).items.map((r) => r.id)).toEqual([unsynced]);
    }),

  'listUnseen(entity, snapshot) returns CRM records not seen in the snapshot and not yet flagged': () =>
    ctx.withStore(async (store) => {
      const seen = uid();
      const unseen = uid();
      const flagged = uid();
      const local = uid('local');
      await store.commit({
        entity: 'contact',
        records: [
          newRecord(seen, { seenIn: 's2' }),
          newRecord(unseen, { seenIn: 's1' }),
          newRecord(flagged, { seenIn: 's1', crmDeleted: true }),
          newRecord(local, { crmId: null, syncToCrm: true }),
        ],
      });
      const page = await store.listUnseen('contact', 's2', { limit: 10 });
      expect(page.items.map((r) => r.id)).toEqual([unseen]);
    }),
});
