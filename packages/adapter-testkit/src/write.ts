import type { CrmWriteResult } from '@crm-sync/core';
import { expect } from 'vitest';
import { crmValues, lead, newId, pick, pullAll, seed, values } from './context.js';
import type { Crm, KitContext, KitTest } from './context.js';

/** Seeds rows and pulls them once: their ids and the versions the adapter reported. */
async function pulledRows(crm: Crm, count: number) {
  const seeded = await seed(crm, count);
  const pulled = await pullAll(crm.adapter, lead, crm.fields, null);
  const version = (id: string) => pulled.rows.get(id)?.version ?? null;
  return { seeded, ids: [...seeded.keys()], version, checkpoint: pulled.checkpoint };
}

function expectOk(result: CrmWriteResult | undefined, id: string, created: boolean): asserts result is Extract<CrmWriteResult, { ok: true }> {
  expect(result, `no result for ${id}`).toBeDefined();
  expect(result, `result for ${id}: ${result?.ok === false ? result.message : ''}`).toMatchObject({ id, ok: true, created });
  expect((result as { version: string }).version).toMatch(/\S/);
}

function expectFailure(result: CrmWriteResult | undefined, id: string, kind: 'collision' | 'rejected' | 'not-found' | 'exists'): void {
  expect(result, `result for ${id}`).toMatchObject({ id, ok: false, kind });
  expect((result as { message: string }).message).toMatch(/\S/);
}

export const writeTests = (ctx: KitContext) => ({
  'updateRecords() writes the fields given and no other, at the version given; the result carries the new version': () =>
    ctx.withCrm(async (crm) => {
      const { seeded, ids, version } = await pulledRows(crm, 1);
      const [id] = ids as [string];
      const [changed] = crm.fields as [string];
      const [result] = await crm.adapter.updateRecords(lead, [{ id, ifVersion: version(id), fields: { [changed]: 'updated' } }]);
      expectOk(result, id, false);
      expect(result.version).not.toBe(version(id));
      expect(await crmValues(crm, id)).toEqual({ ...seeded.get(id), [changed]: 'updated' });
    }),

  'R2: updateRecords() with a stale version is a collision and writes nothing': () =>
    ctx.withCrm(async (crm) => {
      const { seeded, ids, version } = await pulledRows(crm, 1);
      const [id] = ids as [string];
      const [mine, theirs] = crm.fields as [string, string];
      await crm.control.update(lead.name, id, { [theirs]: 'their edit' });
      const [result] = await crm.adapter.updateRecords(lead, [{ id, ifVersion: version(id), fields: { [mine]: 'my edit' } }]);
      expectFailure(result, id, 'collision');
      expect(await crmValues(crm, id)).toEqual({ ...seeded.get(id), [theirs]: 'their edit' });
    }),

  'R12: updateRecords() of a row that is gone, or never was, is not-found and creates nothing': () =>
    ctx.withCrm(async (crm) => {
      const { ids, version } = await pulledRows(crm, 1);
      const [gone] = ids as [string];
      await crm.control.delete(lead.name, gone);
      const never = newId();
      const results = await crm.adapter.updateRecords(lead, [
        { id: gone, ifVersion: version(gone), fields: values(crm.fields) },
        { id: never, ifVersion: null, fields: values(crm.fields) },
      ]);
      expectFailure(results[0], gone, 'not-found');
      expectFailure(results[1], never, 'not-found');
      expect(await crm.control.read(lead.name, gone)).toBeNull();
      expect(await crm.control.read(lead.name, never)).toBeNull();
    }),

  'updateRecords() answers one result per update, in order, each row on its own': () =>
    ctx.withCrm(async (crm) => {
      const { ids, version } = await pulledRows(crm, 3);
      const [a, stale, b] = ids as [string, string, string];
      const missing = newId();
      await crm.control.update(lead.name, stale, values(crm.fields.slice(1), 'theirs'));
      const results = await crm.adapter.updateRecords(
        lead,
        [a, stale, missing, b].map((id) => ({ id, ifVersion: version(id), fields: { [crm.fields[0]!]: `ordered ${id}` } })),
      );
      expect(results.map((r) => r.id)).toEqual([a, stale, missing, b]);
      expectOk(results[0], a, false);
      expectFailure(results[1], stale, 'collision');
      expectFailure(results[2], missing, 'not-found');
      expectOk(results[3], b, false);
      expect((await crmValues(crm, b))?.[crm.fields[0]!]).toBe(`ordered ${b}`);
    }),

  'updateRecords() with a value the CRM refuses is rejected with a message naming the field, and writes nothing of the row': ({ skip }) =>
    ctx.withCrm(async (crm) => {
      const schema = await crm.adapter.describeEntity(lead);
      const limited = schema.fields.find((f) => crm.fields.includes(f.name) && f.maxLength !== undefined);
      if (!limited) skip(`describeEntity(lead) gives no maxLength for ${crm.fields.join(', ')}: the suite knows no value the CRM refuses`);
      const { seeded, ids, version } = await pulledRows(crm, 1);
      const [id] = ids as [string];
      const other = crm.fields.find((f) => f !== limited!.name) as string;
      const [result] = await crm.adapter.updateRecords(lead, [
        { id, ifVersion: version(id), fields: { [limited!.name]: 'x'.repeat(limited!.maxLength! + 1), [other]: 'fine' } },
      ]);
      expectFailure(result, id, 'rejected');
      expect((result as { message: string }).message).toContain(limited!.name);
      expect(await crmValues(crm, id)).toEqual(seeded.get(id));
    }),

  'R6: updateRecords() of a column whose update right the sync user lost is refused naming it, and writes nothing of the row': () =>
    ctx.withCrm(async (crm) => {
      await crm.control.addColumn(lead.name, 'kit_guarded');
      await crm.adapter.describeEntity(lead, { fresh: true });
      const { seeded, ids, version } = await pulledRows(crm, 1);
      const [id] = ids as [string];
      await crm.control.setFieldAccess(lead.name, 'kit_guarded', { read: true, update: false });
      // As the engine does at the start of each cycle: the adapter may answer from its cache.
      await crm.adapter.describeEntity(lead);
      const [first] = crm.fields as [string];
      const update = { id, ifVersion: version(id), fields: { [first]: 'sent with it', kit_guarded: 'refused' } };
      // Either per row (the engine sends the other fields again without it) or for the whole call.
      const outcome = await crm.adapter.updateRecords(lead, [update]).then(
        ([result]) => ({ result }),
        (error: unknown) => ({ error }),
      );
      if ('error' in outcome) {
        expect(outcome.error).toMatchObject({ name: 'SyncError', code: 'FIELD_NOT_UPDATABLE' });
        expect((outcome.error as Error).message).toContain('kit_guarded');
      } else {
        expectFailure(outcome.result, id, 'rejected');
        expect(outcome.result).toMatchObject({ fields: ['kit_guarded'] });
      }
      expect(await crmValues(crm, id)).toEqual(seeded.get(id));
      expect((await crm.control.read(lead.name, id))?.kit_guarded ?? null).toBeNull();
    }),

  "R14: createRecords() creates rows with the caller's ids and their values": () =>
    ctx.withCrm(async (crm) => {
      const creates = [newId(), newId()].map((id) => ({ id, fields: values(crm.fields, 'created') }));
      const results = await crm.adapter.createRecords(lead, creates);
      expect(results).toHaveLength(2);
      for (const [i, create] of creates.entries()) {
        const result = results[i];
        const id = crm.adapter.capabilities.createWithClientId ? create.id : (result?.id ?? '');
        expectOk(result, id, true);
        expect(await crmValues(crm, id)).toEqual(create.fields);
      }
      expect(await crm.control.ids(lead.name)).toHaveLength(2);
    }),

  'R14: a retried createRecords() answers exists and never makes a second row': ({ skip }) =>
    ctx.withCrm(async (crm) => {
      if (!crm.adapter.capabilities.createWithClientId) skip("capabilities.createWithClientId is false: the CRM chooses ids, so a retry cannot be recognised (the engine quarantines a create whose outcome is unknown)");
      const id = newId();
      const fields = values(crm.fields, 'once');
      expectOk((await crm.adapter.createRecords(lead, [{ id, fields }]))[0], id, true);
      const [again] = await crm.adapter.createRecords(lead, [{ id, fields: values(crm.fields, 'twice') }]);
      expectFailure(again, id, 'exists');
      expect(await crm.control.ids(lead.name)).toEqual([id]);
      expect(await crmValues(crm, id)).toEqual(fields);
    }),

  'R13: rows the adapter wrote come back marked bySyncUser, at the version the write returned; rows others changed do not': () =>
    ctx.withCrm(async (crm) => {
      const { ids, version, checkpoint } = await pulledRows(crm, 2);
      const [mine, theirs] = ids as [string, string];
      const [first] = crm.fields as [string];
      const [updated] = await crm.adapter.updateRecords(lead, [{ id: mine, ifVersion: version(mine), fields: { [first]: 'by the sync' } }]);
      expectOk(updated, mine, false);
      await crm.control.update(lead.name, theirs, { [first]: 'by someone else' });
      const createdId = newId();
      const [created] = await crm.adapter.createRecords(lead, [{ id: createdId, fields: values(crm.fields) }]);
      const createdAs = crm.adapter.capabilities.createWithClientId ? createdId : (created?.id ?? '');
      expectOk(created, createdAs, true);
      const next = await pullAll(crm.adapter, lead, crm.fields, checkpoint);
      expect(next.rows.get(mine)).toMatchObject({ bySyncUser: true, version: updated.version, fields: { [first]: 'by the sync' } });
      expect(next.rows.get(createdAs)).toMatchObject({ bySyncUser: true, version: created.version });
      expect(next.rows.get(theirs)).toMatchObject({ bySyncUser: false, fields: { [first]: 'by someone else' } });
      expect(pick(next.rows.get(theirs)?.fields, [first])).toEqual({ [first]: 'by someone else' });
    }),
} satisfies Record<string, KitTest>);
