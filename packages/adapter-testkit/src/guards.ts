import { expect } from 'vitest';
import { account, crmValues, expectSyncError, lead, newId, pullAll, rejection, seed, values } from './context.js';
import type { KitContext, KitTest } from './context.js';

/** A field no CRM has: a local-only field of the marketing database. */
const LOCAL_ONLY = 'kit_local_only_score';

export const guardTests = (ctx: KitContext) => ({
  'R5: createRecords() of a one-way entity is refused with CRM_CREATE_REFUSED before anything is sent': () =>
    ctx.withCrm(async ({ adapter, control }) => {
      const id = newId();
      const error = await rejection(() => adapter.createRecords(account, [{ id, fields: {} }]));
      expectSyncError(error, 'CRM_CREATE_REFUSED', 'account');
      expect(await control.read(account.name, id)).toBeNull();
      expect(await control.ids(account.name)).toEqual([]);
    }),

  'R8: updateRecords() with a field the CRM does not have is refused with FIELD_NOT_IN_CRM naming it, before anything is sent': () =>
    ctx.withCrm(async (crm) => {
      const seeded = await seed(crm, 2);
      const pulled = await pullAll(crm.adapter, lead, crm.fields, null);
      const [a, b] = [...seeded.keys()] as [string, string];
      const version = (id: string) => pulled.rows.get(id)?.version ?? null;
      const error = await rejection(() =>
        crm.adapter.updateRecords(lead, [
          { id: a, ifVersion: version(a), fields: values(crm.fields) },
          { id: b, ifVersion: version(b), fields: { ...values(crm.fields), [LOCAL_ONLY]: 'local' } },
        ]),
      );
      expectSyncError(error, 'FIELD_NOT_IN_CRM', LOCAL_ONLY);
      // Nothing of the call was sent: not even the row without the local field.
      expect(await crmValues(crm, a)).toEqual(seeded.get(a));
      expect(await crmValues(crm, b)).toEqual(seeded.get(b));
    }),

  'R8: createRecords() with a field the CRM does not have is refused with FIELD_NOT_IN_CRM naming it, and creates nothing': () =>
    ctx.withCrm(async (crm) => {
      const error = await rejection(() =>
        crm.adapter.createRecords(lead, [
          { id: newId(), fields: values(crm.fields) },
          { id: newId(), fields: { ...values(crm.fields), [LOCAL_ONLY]: 'local' } },
        ]),
      );
      expectSyncError(error, 'FIELD_NOT_IN_CRM', LOCAL_ONLY);
      expect(await crm.control.ids(lead.name)).toEqual([]);
    }),

  'R6: a pull of a column the sync user can no longer read fails with CRM_SCHEMA_CHANGED before handing out a row, never reading it as null': () =>
    ctx.withCrm(async (crm) => {
      const seeded = await seed(crm, 2);
      await crm.control.addColumn(lead.name, 'kit_secret');
      for (const id of seeded.keys()) await crm.control.update(lead.name, id, { kit_secret: 'known' });
      const fields = [...crm.fields, 'kit_secret'];
      await crm.adapter.describeEntity(lead, { fresh: true });
      const { checkpoint } = await pullAll(crm.adapter, lead, fields, null);
      await crm.control.setFieldAccess(lead.name, 'kit_secret', { read: false, update: false });
      await crm.control.update(lead.name, [...seeded.keys()][0]!, { [crm.fields[0]!]: 'changed since' });
      // As the engine does at the start of each cycle: the adapter may answer from its cache.
      await crm.adapter.describeEntity(lead);
      const handed: string[] = [];
      const error = await rejection(async () => {
        for await (const page of crm.adapter.pullChanges(lead, { checkpoint, fields })) handed.push(...page.upserts.map((r) => r.id));
      });
      expectSyncError(error, 'CRM_SCHEMA_CHANGED', 'kit_secret');
      expect(handed).toEqual([]);
    }),
} satisfies Record<string, KitTest>);
