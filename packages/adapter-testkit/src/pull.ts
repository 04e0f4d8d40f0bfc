import type { CrmRecord, FieldMap } from '@crm-sync/core';
import { expect } from 'vitest';
import { accountsForDelete, lead, newId, pick, pullAll, seed, snapshotOf, values } from './context.js';
import type { Crm, KitContext, KitTest, Pulled } from './context.js';

/** Every seeded row is handed out with its values, as another user's change. */
function expectRows(pulled: Pulled, seeded: Map<string, FieldMap>, fields: readonly string[]): void {
  expect([...pulled.rows.keys()].sort()).toEqual([...seeded.keys()].sort());
  for (const [id, expected] of seeded) {
    const row = pulled.rows.get(id) as CrmRecord;
    expect(pick(row.fields, fields), `row ${id}`).toEqual(expected);
    expect(row.version, `row ${id}: version`).toMatch(/\S/);
    expect(row.bySyncUser, `row ${id}: bySyncUser`).toBe(false);
    if (row.modifiedOn !== null) expect(Number.isNaN(Date.parse(row.modifiedOn)), `row ${id}: modifiedOn ${row.modifiedOn}`).toBe(false);
  }
}

/** A complete full read of the table: pages of one snapshot, complete on the last page only. */
function expectCompleteSnapshot(pulled: Pulled): string {
  const snapshot = snapshotOf(pulled);
  expect(snapshot, 'every page belongs to one snapshot').not.toBeNull();
  expect(pulled.pages.map((p) => p.snapshot?.complete)).toEqual(pulled.pages.map((_, i) => i === pulled.pages.length - 1));
  return (snapshot as { id: string }).id;
}

/** Seeds rows and completes a first pull; returns its checkpoint. */
async function firstPull(crm: Crm, count: number) {
  const seeded = await seed(crm, count);
  const pulled = await pullAll(crm.adapter, lead, crm.fields, null);
  expect(pulled.checkpoint).toMatch(/\S/);
  return { seeded, checkpoint: pulled.checkpoint as string, ids: [...seeded.keys()], rows: pulled.rows };
}

export const pullTests = (ctx: KitContext) => ({
  'R12: a first pull of an empty table completes a snapshot and gives a checkpoint': () =>
    ctx.withCrm(async ({ adapter, fields }) => {
      const pulled = await pullAll(adapter, lead, fields, null);
      expect(pulled.pages.length).toBeGreaterThan(0);
      expectCompleteSnapshot(pulled);
      expect(pulled.rows.size + pulled.deletes.length + pulled.rejected.length).toBe(0);
      expect(pulled.checkpoint).toMatch(/\S/);
    }),

  'R12: a first pull hands out every row, in pages of one snapshot, each page with a checkpoint': () =>
    ctx.withCrm(async (crm) => {
      const seeded = await seed(crm, 7);
      const pulled = await pullAll(crm.adapter, lead, crm.fields, null);
      expect(pulled.pages.length, 'seven rows at three a page').toBeGreaterThan(1);
      expectCompleteSnapshot(pulled);
      for (const page of pulled.pages) expect(page.checkpoint).toMatch(/\S/);
      // Each row once: a row handed out twice in one read is a sign of unstable paging.
      expect(pulled.pages.flatMap((p) => p.upserts).length).toBe(7);
      expectRows(pulled, seeded, crm.fields);
      expect(pulled.deletes).toEqual([]);
      expect(pulled.rejected).toEqual([]);
    }),

  "R12: a first pull resumes from any page's checkpoint, in the same snapshot or a new full one, losing no row": () =>
    ctx.withCrm(async (crm) => {
      const seeded = await seed(crm, 7);
      const first = await pullAll(crm.adapter, lead, crm.fields, null);
      const snapshot = expectCompleteSnapshot(first);
      expect(first.pages.length).toBeGreaterThan(1);
      for (let i = 0; i < first.pages.length - 1; i++) {
        const resumed = await pullAll(crm.adapter, lead, crm.fields, first.pages[i]!.checkpoint);
        const again = expectCompleteSnapshot(resumed);
        const seen = new Set([...first.pages.slice(0, i + 1).flatMap((p) => p.upserts.map((r) => r.id)), ...resumed.rows.keys()]);
        expect([...seen].sort(), `resumed after page ${i + 1}`).toEqual([...seeded.keys()].sort());
        // Rows of the pages before were seen in the first snapshot: a new one must hand them out again (R12).
        if (again !== snapshot) expect([...resumed.rows.keys()].sort(), `a new snapshot after page ${i + 1} reads every row`).toEqual([...seeded.keys()].sort());
      }
    }),

  'incremental pull: from the checkpoint of a completed read come rows changed and inserted since, and rows deleted since': () =>
    ctx.withCrm(async (crm) => {
      const { checkpoint, ids, rows } = await firstPull(crm, 4);
      const [changed, deleted] = ids as [string, string];
      const before = rows.get(changed)?.version;
      const edit = values(crm.fields.slice(0, 1), 'edit');
      await crm.control.update(lead.name, changed, edit);
      await crm.control.delete(lead.name, deleted);
      const inserted = newId();
      const insertedValues = values(crm.fields, 'new');
      await crm.control.insert(lead.name, inserted, insertedValues);
      const next = await pullAll(crm.adapter, lead, crm.fields, checkpoint);
      expect(next.rows.get(changed)?.fields).toMatchObject(edit);
      expect(next.rows.get(changed)?.version).not.toBe(before);
      expect(pick(next.rows.get(inserted)?.fields, crm.fields)).toEqual(insertedValues);
      const { changeTracking } = await crm.adapter.describeEntity(lead);
      // Without change tracking an incremental read cannot see deletes: a later full read finds them (R12).
      if (changeTracking || !crm.adapter.capabilities.incrementalPull) expect(accountsForDelete(next, deleted), `delete of ${deleted}`).toBe(true);
      if (crm.adapter.capabilities.incrementalPull) {
        expect(snapshotOf(next), 'an incremental read is not a snapshot').toBeNull();
        expect([...next.rows.keys()].sort()).toEqual([changed, inserted].sort());
      }
    }),

  'incremental pull: nothing changed since a completed read, nothing is handed out': ({ skip }) =>
    ctx.withCrm(async (crm) => {
      if (!crm.adapter.capabilities.incrementalPull) skip('capabilities.incrementalPull is false: every pull is a full read');
      const { checkpoint } = await firstPull(crm, 4);
      const quiet = await pullAll(crm.adapter, lead, crm.fields, checkpoint);
      expect(quiet.rows.size + quiet.deletes.length + quiet.rejected.length).toBe(0);
      expect(quiet.checkpoint).toMatch(/\S/);
    }),

  'an invalid checkpoint leads to a full read of every row': () =>
    ctx.withCrm(async (crm) => {
      const seeded = await seed(crm, 4);
      for (const checkpoint of ['not a checkpoint', '{"v":999}', '']) {
        const pulled = await pullAll(crm.adapter, lead, crm.fields, checkpoint);
        expectCompleteSnapshot(pulled);
        expectRows(pulled, seeded, crm.fields);
      }
    }),

  'an expired checkpoint leads to a full read, never to silent loss of a change or a delete': ({ skip }) =>
    ctx.withCrm(async (crm) => {
      if (!crm.control.expireChangeTokens) skip('the control has no expireChangeTokens: the CRM issues no change tokens that expire');
      const { seeded, checkpoint, ids } = await firstPull(crm, 4);
      const [changed, deleted] = ids as [string, string];
      const edit = values(crm.fields.slice(0, 1), 'edit');
      await crm.control.update(lead.name, changed, edit);
      await crm.control.delete(lead.name, deleted);
      await crm.control.expireChangeTokens!();
      const next = await pullAll(crm.adapter, lead, crm.fields, checkpoint);
      expectCompleteSnapshot(next);
      seeded.delete(deleted);
      seeded.set(changed, { ...seeded.get(changed), ...edit });
      expectRows(next, seeded, crm.fields);
      expect(accountsForDelete(next, deleted)).toBe(true);
    }),

  'rows the adapter cannot read are rejected with a reason, and the page goes on': ({ skip }) =>
    ctx.withCrm(async (crm) => {
      if (!crm.control.damageNextRead) skip('the control has no damageNextRead: the CRM cannot be made to send a row the adapter cannot read');
      const seeded = await seed(crm, 5);
      await crm.control.damageNextRead!(lead.name);
      const pulled = await pullAll(crm.adapter, lead, crm.fields, null);
      expect(pulled.rejected).toHaveLength(1);
      const [rejected] = pulled.rejected;
      expect(rejected!.reason).toMatch(/\S/);
      expect(pulled.rows.size).toBe(4);
      for (const id of pulled.rows.keys()) expect(seeded.has(id)).toBe(true);
      if (rejected!.id !== null) {
        expect(seeded.has(rejected!.id)).toBe(true);
        expect(pulled.rows.has(rejected!.id)).toBe(false);
      }
      expect(pulled.pages.at(-1)?.snapshot?.complete).toBe(true);
    }),
} satisfies Record<string, KitTest>);
