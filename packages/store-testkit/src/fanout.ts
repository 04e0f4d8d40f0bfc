import { expect } from 'vitest';
import { newRecord, uid } from './context.js';
import type { TestContext } from './types.js';

export const fanOutTests = (ctx: TestContext) => ({
  'commit(fanOuts) sets company on every record of the account and bumps their revisions': () =>
    ctx.withStore(async (store) => {
      const acc = uid('acc');
      const other = uid('acc');
      const contacts = [uid(), uid(), uid()];
      const outsider = uid();
      await store.commit({
        entity: 'contact',
        records: [
          ...contacts.map((id) => newRecord(id, { accountId: acc, company: { name: 'Old', city: 'Oslo' } })),
          newRecord(outsider, { accountId: other, company: { name: 'Other' } }),
        ],
      });
      await store.commit({
        entity: 'account',
        fanOuts: [{ entity: 'contact', accountId: acc, company: { name: 'New' } }],
      });
      const records = await store.getRecords('contact', [...contacts, outsider]);
      expect(records.map((r) => r.id).sort()).toEqual([...contacts, outsider].sort());
      for (const r of records.filter((r) => r.id !== outsider)) {
        expect(r.company).toEqual({ name: 'New', city: 'Oslo' });
        expect(r.revision).toBe(2);
      }
      expect(records.find((r) => r.id === outsider)?.company).toEqual({ name: 'Other' });
      expect((await store.listActivities({ limit: 10 })).items).toEqual([]);
    }),

  'commit(fanOuts) with log appends one activity per record and changed watched key, made from the template': () =>
    ctx.withStore(async (store) => {
      const acc = uid('acc');
      const a = uid();
      const b = uid();
      await store.commit({
        entity: 'contact',
        records: [
          newRecord(a, { accountId: acc, company: { name: 'Old', city: 'Oslo' } }),
          newRecord(b, { accountId: acc, company: { name: 'Old', city: 'Bergen' } }),
        ],
      });
      await store.commit({
        entity: 'account',
        fanOuts: [{
          entity: 'contact', accountId: acc, company: { name: 'New', city: 'Oslo' },
          log: { fields: { name: 'company.name', city: 'company.city' }, type: 'change-data-value', source: 'crm', detail: `account ${acc}` },
        }],
      });
      const activities = (await store.listActivities({ limit: 10 })).items;
      const summary = activities.map((x) => [x.recordId, x.field, x.oldValue, x.newValue, x.type, x.source, x.detail]);
      expect(summary).toHaveLength(3);
      // Named as the record holds the value (company.<field>), never as the record's own field.
      expect(summary).toEqual(
        expect.arrayContaining([
          [a, 'company.name', 'Old', 'New', 'change-data-value', 'crm', `account ${acc}`],
          [b, 'company.name', 'Old', 'New', 'change-data-value', 'crm', `account ${acc}`],
          [b, 'company.city', 'Bergen', 'Oslo', 'change-data-value', 'crm', `account ${acc}`],
        ]),
      );
      expect(activities.every((x) => x.entity === 'contact')).toBe(true);
    }),

  'commit(fanOuts) reaches 5,001 records in one batch': () =>
    ctx.withStore(async (store) => {
      const acc = uid('acc');
      const ids = Array.from({ length: 5_001 }, (_, i) => `${acc}-c${String(i).padStart(5, '0')}`);
      await store.commit({ entity: 'contact', records: ids.map((id) => newRecord(id, { accountId: acc })) });
      expect((await store.countByAccount('contact', [acc, 'none'])).get(acc)).toBe(5_001);
      await store.commit({
        entity: 'account',
        fanOuts: [{ entity: 'contact', accountId: acc, company: { industry: 'Retail' } }],
      });
      const page = await store.listRecords('contact', { limit: 10_000, where: {} });
      expect(page.items.filter((r) => r.company.industry === 'Retail')).toHaveLength(5_001);
    }),

  'countByAccount(entity, ids) counts records per account and omits accounts without any': () =>
    ctx.withStore(async (store) => {
      const a = uid('acc');
      const b = uid('acc');
      await store.commit({
        entity: 'contact',
        records: [newRecord(uid(), { accountId: a }), newRecord(uid(), { accountId: a }), newRecord(uid(), { accountId: b })],
      });
      await store.commit({ entity: 'opportunity', records: [newRecord(uid(), { accountId: a })] });
      const counts = await store.countByAccount('contact', [a, b, 'nobody']);
      expect(Object.fromEntries(counts)).toEqual({ [a]: 2, [b]: 1 });
    }),

  'a record that changes account follows the new account on the next fan-out': () =>
    ctx.withStore(async (store) => {
      const a = uid('acc');
      const b = uid('acc');
      const id = uid();
      await store.commit({ entity: 'contact', records: [newRecord(id, { accountId: a })] });
      await store.commit({ entity: 'contact', records: [{ id, expectedRevision: 1, accountId: b }] });
      await store.commit({
        entity: 'account',
        fanOuts: [
          { entity: 'contact', accountId: a, company: { name: 'A' } },
          { entity: 'contact', accountId: b, company: { name: 'B' } },
        ],
      });
      expect((await store.getRecords('contact', [id]))[0]?.company).toEqual({ name: 'B' });
      expect(Object.fromEntries(await store.countByAccount('contact', [a, b]))).toEqual({ [b]: 1 });
    }),

  'commit(fanOuts) takes the activity type, source, field names and detail from the log, for any entity': () =>
    ctx.withStore(async (store) => {
      const org = uid('org');
      const [a, b] = [uid(), uid()];
      await store.commit({
        entity: 'member',
        records: [newRecord(a, { accountId: org, company: { tier: 'gold', size: 3 } }), newRecord(b, { accountId: org, company: { tier: 'gold' } })],
      });
      await store.commit({
        entity: 'org',
        fanOuts: [{
          entity: 'member', accountId: org, company: { tier: 'gold', size: 4 },
          // Only watched keys log; an unchanged one (tier) logs nothing; a detail may be null.
          log: { fields: { tier: 'org tier', size: 'org size' }, type: 'collision', source: 'local', detail: null },
        }],
      });
      const activities = (await store.listActivities({ limit: 10 })).items;
      expect(activities.map((x) => [x.entity, x.recordId, x.type, x.source, x.field, x.oldValue, x.newValue, x.detail])).toEqual(
        expect.arrayContaining([
          ['member', a, 'collision', 'local', 'org size', 3, 4, null],
          ['member', b, 'collision', 'local', 'org size', null, 4, null],
        ]),
      );
      expect(activities).toHaveLength(2);
      const records = await store.getRecords('member', [a, b]);
      expect(records.map((r) => [r.company, r.revision])).toEqual([[{ tier: 'gold', size: 4 }, 2], [{ tier: 'gold', size: 4 }, 2]]);
    }),
});
