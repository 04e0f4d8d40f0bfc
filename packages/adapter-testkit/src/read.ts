import { expect } from 'vitest';
import { lead, newId, pick, pullAll, readAllRows, seed } from './context.js';
import type { KitContext, KitTest } from './context.js';

export const readTests = (ctx: KitContext) => ({
  'R10: readAll() hands out every row with the current values of the fields asked for, a column added since included': () =>
    ctx.withCrm(async (crm) => {
      const seeded = await seed(crm, 5);
      await crm.control.addColumn(lead.name, 'kit_quick');
      await crm.adapter.describeEntity(lead, { fresh: true });
      for (const id of seeded.keys()) await crm.control.update(lead.name, id, { kit_quick: `quick ${id}` });
      const fields = [...crm.fields, 'kit_quick'];
      const read = await readAllRows(crm.adapter, lead, fields);
      expect(read.pages, 'five rows at three a page').toBeGreaterThan(1);
      expect([...read.rows.keys()].sort()).toEqual([...seeded.keys()].sort());
      for (const [id, expected] of seeded) expect(pick(read.rows.get(id)?.fields, fields)).toEqual({ ...expected, kit_quick: `quick ${id}` });
      expect(read.rejected).toEqual([]);
    }),

  'R10: readAll() leaves checkpoints alone: a pull from an earlier checkpoint still hands out the changes since': () =>
    ctx.withCrm(async (crm) => {
      const seeded = await seed(crm, 3);
      const first = await pullAll(crm.adapter, lead, crm.fields, null);
      const [changed] = [...seeded.keys()] as [string];
      await crm.control.update(lead.name, changed, { [crm.fields[0]!]: 'changed before readAll' });
      await readAllRows(crm.adapter, lead, crm.fields);
      const next = await pullAll(crm.adapter, lead, crm.fields, first.checkpoint);
      expect(next.rows.get(changed)?.fields[crm.fields[0]!]).toBe('changed before readAll');
    }),

  'readRecords() returns the current rows asked for and lists those gone or never there as missing': ({ skip }) =>
    ctx.withCrm(async (crm) => {
      const readRecords = crm.adapter.readRecords?.bind(crm.adapter);
      if (!readRecords) skip('the adapter has no readRecords (optional): quarantined rows are read again by the next full read');
      const seeded = await seed(crm, 3);
      const [kept, gone] = [...seeded.keys()] as [string, string];
      await crm.control.delete(lead.name, gone);
      const never = newId();
      const result = await readRecords!(lead, { ids: [kept, gone, never], fields: crm.fields });
      expect(result.rows.map((r) => r.id)).toEqual([kept]);
      expect(pick(result.rows[0]?.fields, crm.fields)).toEqual(seeded.get(kept));
      expect([...result.missing].sort()).toEqual([gone, never].sort());
      expect(result.rejected).toEqual([]);
    }),
} satisfies Record<string, KitTest>);
