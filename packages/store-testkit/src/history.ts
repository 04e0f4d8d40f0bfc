import type { FieldValue, FieldHistoryEntry, FieldHistoryInput, FieldHistoryPage, FieldHistoryQuery, SyncStore } from '@crm-sync/core';
import { expect } from 'vitest';
import { newRecord, uid } from './context.js';
import type { TestContext } from './types.js';

/**
 * Field history is optional: a store keeps it with both `listFieldHistory` and `pruneFieldHistory`
 * (then every test below runs), or neither (then each test checks only that a batch carrying history
 * still commits the rest of it, which core's wrapper makes sure of).
 */
function withHistory(store: SyncStore): { list: (q: FieldHistoryQuery) => Promise<FieldHistoryPage>; prune: (before: string) => Promise<number> } | null {
  if (!store.listFieldHistory) {
    expect(store.pruneFieldHistory).toBeUndefined();
    return null;
  }
  expect(typeof store.pruneFieldHistory).toBe('function');
  return { list: store.listFieldHistory.bind(store), prune: (store.pruneFieldHistory as NonNullable<SyncStore['pruneFieldHistory']>).bind(store) };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every page of one field's history (cursor paging), checking that pages are at most `limit` long. */
async function allPages(list: (q: FieldHistoryQuery) => Promise<FieldHistoryPage>, q: Omit<FieldHistoryQuery, 'limit' | 'after'>, limit: number) {
  const items: FieldHistoryEntry[] = [];
  let after: string | number | undefined;
  for (let pages = 0; pages < 100; pages += 1) {
    const page = await list({ ...q, limit, ...(after !== undefined ? { after } : {}) });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    items.push(...page.items);
    if (page.next === null) return items;
    after = page.next;
  }
  throw new Error('listFieldHistory never ended');
}

export const historyTests = (ctx: TestContext) => ({
  'listFieldHistory lists one field of one record, oldest first, paged, with every member as written': () =>
    ctx.withStore(async (store) => {
      const id = uid();
      const other = uid();
      const entry = (field: string, value: FieldValue, extra: Partial<FieldHistoryInput> = {}): FieldHistoryInput => ({
        entity: 'contact', recordId: id, field, rule: 'pull', side: 'crm', oldValue: null, value, ...extra,
      });
      await store.commit({ entity: 'contact', records: [newRecord(id, { fields: { jobtitle: 'A' } }), newRecord(other)] });
      const history = withHistory(store);
      await store.commit({ entity: 'contact', records: [{ id, expectedRevision: 1, fields: { jobtitle: 'B' } }], history: [entry('jobtitle', 'B', { oldValue: 'A' })] });
      if (!history) {
        expect((await store.getRecords('contact', [id]))[0]?.fields.jobtitle).toBe('B');
        return;
      }
      await store.commit({
        entity: 'contact',
        history: [
          entry('jobtitle', 'C', { rule: 'local-edit', side: 'local', oldValue: 'B', detail: 'typed' }),
          entry('lastname', 'Other field'),
          { ...entry('jobtitle', 'Other record'), recordId: other },
          entry('jobtitle', 'D', { rule: 'collision', oldValue: 'C', collision: { localValue: 'C', crmValue: 'D', winner: 'crm' } }),
        ],
      });
      await store.commit({ entity: 'contact', history: [entry('jobtitle', 7, { rule: 'local-edit', side: 'local', oldValue: 'D' }), entry('jobtitle', true), entry('jobtitle', null)] });

      const items = await allPages(history.list, { entity: 'contact', recordId: id, field: 'jobtitle' }, 2);
      expect(items.map((e) => e.value)).toEqual(['B', 'C', 'D', 7, true, null]);
      expect(items.map((e) => e.rule)).toEqual(['pull', 'local-edit', 'collision', 'local-edit', 'pull', 'pull']);
      const seqs = items.map((e) => e.seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(6);
      expect(items[1]).toMatchObject({ entity: 'contact', recordId: id, accountId: null, field: 'jobtitle', side: 'local', oldValue: 'B', collision: null, detail: 'typed' });
      expect(items[2]?.collision).toEqual({ localValue: 'C', crmValue: 'D', winner: 'crm' });
      expect(items[0]?.detail).toBeNull();
      for (const e of items) expect(new Date(e.at).toISOString()).toBe(e.at);
      const first = await history.list({ entity: 'contact', recordId: id, field: 'jobtitle', limit: 100 });
      expect(first.next).toBeNull();
      expect(first.recordCreatedAt).not.toBeNull();
      expect(new Date(first.recordCreatedAt as string).toISOString()).toBe(first.recordCreatedAt);
      expect(first.recordCreatedAt! <= items[0]!.at).toBe(true);
      expect((await history.list({ entity: 'contact', recordId: id, field: 'lastname', limit: 10 })).items.map((e) => e.value)).toEqual(['Other field']);
      // Unknown record: no entries, no creation time.
      expect(await history.list({ entity: 'contact', recordId: uid(), field: 'jobtitle', limit: 10 })).toEqual({ items: [], next: null, recordCreatedAt: null });
    }),

  'commit(fanOuts) with history stores one entry per key for the account, read with each record of it from its creation, until it moves': () =>
    ctx.withStore(async (store) => {
      const acc = uid('acc');
      const other = uid('acc');
      const members = Array.from({ length: 50 }, () => uid());
      const outsider = uid();
      await store.commit({
        entity: 'contact',
        records: [...members.map((id) => newRecord(id, { accountId: acc, company: { name: 'Old' } })), newRecord(outsider, { accountId: other })],
      });
      const history = withHistory(store);
      await pause(5);
      await store.commit({
        entity: 'account',
        fanOuts: [{
          entity: 'contact', accountId: acc, company: { name: 'New', city: 'Oslo' },
          history: { fields: { name: 'company.name', city: 'company.city' }, side: 'crm', oldValues: { name: 'Old', city: null }, detail: `account ${acc}` },
        }],
      });
      expect((await store.getRecords('contact', [members[0] as string]))[0]?.company).toEqual({ name: 'New', city: 'Oslo' });
      if (!history) return;
      for (const id of [members[0], members[49]] as string[]) {
        const { items } = await history.list({ entity: 'contact', recordId: id, field: 'company.name', limit: 10 });
        expect(items).toHaveLength(1);
        expect(items[0]).toMatchObject({ entity: 'contact', recordId: null, accountId: acc, field: 'company.name', rule: 'fan-out', side: 'crm', oldValue: 'Old', value: 'New', detail: `account ${acc}` });
      }
      expect((await history.list({ entity: 'contact', recordId: members[0] as string, field: 'company.city', limit: 10 })).items.map((e) => e.value)).toEqual(['Oslo']);
      expect((await history.list({ entity: 'contact', recordId: outsider, field: 'company.name', limit: 10 })).items).toEqual([]);

      // A record created after the fan-out does not show it; one moved to another account shows its move
      // and that account's fan-outs after it (not those of the account it left, before or after).
      await pause(5);
      const late = uid();
      const moved = members[1] as string;
      await store.commit({
        entity: 'contact',
        records: [newRecord(late, { accountId: acc }), { id: moved, expectedRevision: 2, accountId: other }],
        history: [{ entity: 'contact', recordId: moved, field: 'company.name', rule: 'account-link', side: 'crm', oldValue: 'New', value: null }],
      });
      await pause(5);
      await store.commit({
        entity: 'account',
        fanOuts: [{ entity: 'contact', accountId: other, company: { name: 'Other 2' }, history: { fields: { name: 'company.name' }, side: 'crm', oldValues: {}, detail: null } }],
      });
      expect((await history.list({ entity: 'contact', recordId: late, field: 'company.name', limit: 10 })).items).toEqual([]);
      expect((await history.list({ entity: 'contact', recordId: moved, field: 'company.name', limit: 10 })).items.map((e) => [e.rule, e.value])).toEqual([
        ['account-link', null], ['fan-out', 'Other 2'],
      ]);
      expect((await history.list({ entity: 'contact', recordId: members[2] as string, field: 'company.name', limit: 10 })).items.map((e) => e.value)).toEqual(['New']);
      // Set-wise: one entry per account and key, whatever the number of records (retention counts them).
      expect(await history.prune(new Date(Date.now() + 60_000).toISOString())).toBe(4);
    }),

  'pruneFieldHistory(before) removes the entries written before that time and returns how many': () =>
    ctx.withStore(async (store) => {
      const id = uid();
      await store.commit({ entity: 'lead', records: [newRecord(id)] });
      const history = withHistory(store);
      if (!history) return;
      const entry = (value: string): FieldHistoryInput => ({ entity: 'lead', recordId: id, field: 'subject', rule: 'pull', side: 'crm', value });
      await store.commit({ entity: 'lead', history: [entry('old 1'), entry('old 2')] });
      await pause(20);
      const cut = new Date().toISOString();
      await pause(20);
      await store.commit({ entity: 'lead', history: [entry('new')] });
      expect(await history.prune(cut)).toBe(2);
      expect((await history.list({ entity: 'lead', recordId: id, field: 'subject', limit: 10 })).items.map((e) => e.value)).toEqual(['new']);
      expect(await history.prune(cut)).toBe(0);
      // The record itself is untouched.
      expect(await store.getRecords('lead', [id])).toHaveLength(1);
    }),
});
