import { describe, expect, it } from 'vitest';
import type { CrmEntitySchema } from '../contracts/crm.js';
import { createEntityRegistry } from '../entities.js';
import { isSyncError } from '../errors.js';
import { planFields } from './fields.js';
import { assertCanCreateInCrm, pushableSubset } from './guards.js';

const registry = createEntityRegistry({
  custom: [{ name: 'new_membership' }],
});

function thrown(fn: () => void): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('assertCanCreateInCrm (R5)', () => {
  it.each(['account', 'systemuser', 'team', 'opportunity', 'new_membership'])('refuses to create a %s', (name) => {
    const error = thrown(() => assertCanCreateInCrm(registry.get(name)));
    expect(isSyncError(error, 'CRM_CREATE_REFUSED')).toBe(true);
    expect((error as Error).message).toContain(name);
  });
  it.each(['lead', 'contact'])('allows creating a %s', (name) => {
    expect(() => assertCanCreateInCrm(registry.get(name))).not.toThrow();
  });
});

const leadSchema: CrmEntitySchema = {
  entity: 'lead',
  changeTracking: true,
  fields: [
    { name: 'leadid', type: 'Uniqueidentifier', valueKind: 'id', primaryKey: true, custom: false, canRead: true, canUpdate: false, secured: false },
    { name: 'emailaddress1', type: 'String', valueKind: 'text', custom: false, canRead: true, canUpdate: true, secured: false },
    { name: 'fullname', type: 'String', valueKind: 'text', custom: false, canRead: true, canUpdate: false, secured: false },
    { name: 'new_score', type: 'Integer', valueKind: 'integer', custom: true, canRead: false, canUpdate: false, secured: true },
    { name: 'ownerid', type: 'Lookup', valueKind: 'lookup', custom: false, canRead: true, canUpdate: true, secured: false, lookupTargets: ['systemuser', 'team'] },
  ],
};

describe('pushableSubset (R8, R6)', () => {
  const plan = planFields(registry.get('lead'), leadSchema, 'all');
  it('keeps only fields the sync user can update: no local-only field, no read-only or secured one, no lookup', () => {
    expect(pushableSubset({ emailaddress1: 'a', fullname: 'b', mine: 1, new_score: 2, ownerid: 'x' }, plan)).toEqual({ emailaddress1: 'a' });
  });
});

describe('planFields (R6)', () => {
  it('syncs readable fields, pushes updatable non-lookup ones, and gives a reason for every exclusion', () => {
    const plan = planFields(registry.get('lead'), leadSchema, 'all');
    expect(plan.synced).toEqual(['emailaddress1', 'fullname', 'ownerid']);
    expect(plan.pushable).toEqual(['emailaddress1']);
    expect(plan.excluded).toEqual([{ field: 'new_score', reason: 'secured-no-read-privilege' }]);
  });
  it('lists unselected fields as not-selected and unknown selections separately', () => {
    const plan = planFields(registry.get('lead'), leadSchema, ['emailaddress1', 'new_score', 'no_such_field']);
    expect(plan.synced).toEqual(['emailaddress1']);
    expect(plan.excluded).toContainEqual({ field: 'fullname', reason: 'not-selected' });
    expect(plan.excluded).toContainEqual({ field: 'new_score', reason: 'secured-no-read-privilege' });
    expect(plan.unknown).toEqual(['no_such_field']);
  });
  it('never pushes fields of one-way entities', () => {
    const plan = planFields(registry.get('account'), { ...leadSchema, entity: 'account' }, 'all');
    expect(plan.pushable).toEqual([]);
  });
  it('reports a column that is not valid for read', () => {
    const plan = planFields(registry.get('lead'), {
      ...leadSchema,
      fields: [{ name: 'x', type: 'Virtual', valueKind: 'other', custom: false, canRead: false, canUpdate: false, secured: false }],
    }, 'all');
    expect(plan.excluded).toEqual([{ field: 'x', reason: 'not-valid-for-read' }]);
  });
});

describe('planFields system columns and lookups', () => {
  const schema: CrmEntitySchema = {
    entity: 'contact',
    changeTracking: true,
    fields: [
      { name: 'modifiedon', type: 'DateTime', valueKind: 'datetime', systemMaintained: true, custom: false, canRead: true, canUpdate: false, secured: false },
      { name: 'versionnumber', type: 'BigInt', valueKind: 'integer', systemMaintained: true, custom: false, canRead: true, canUpdate: false, secured: false },
      { name: 'parentcustomerid', type: 'Customer', valueKind: 'lookup', custom: false, canRead: true, canUpdate: true, secured: false, lookupTargets: ['account', 'contact'] },
      { name: 'emailaddress1', type: 'String', valueKind: 'text', custom: false, canRead: true, canUpdate: true, secured: false },
    ],
  };
  it('leaves bookkeeping columns out of "all", with a reason, unless named', () => {
    const all = planFields(registry.get('contact'), schema, 'all');
    expect(all.synced).toEqual(['parentcustomerid', 'emailaddress1']);
    expect(all.excluded).toContainEqual({ field: 'modifiedon', reason: 'system-column' });
    expect(planFields(registry.get('contact'), schema, ['modifiedon']).synced).toEqual(['modifiedon']);
  });
  it('never pushes a Customer or Owner lookup', () => {
    expect(planFields(registry.get('contact'), schema, 'all').pushable).toEqual(['emailaddress1']);
  });
  it('reads what the adapter says a column is, never a CRM type name or column name', () => {
    // Another CRM's names: a lookup typed "Reference", a bookkeeping stamp called "updated_at", a plain "modifiedon".
    const other: CrmEntitySchema = {
      entity: 'contact',
      changeTracking: true,
      fields: [
        { name: 'company_ref', type: 'Reference', valueKind: 'lookup', custom: false, canRead: true, canUpdate: true, secured: false },
        { name: 'updated_at', type: 'Timestamp', valueKind: 'datetime', systemMaintained: true, custom: false, canRead: true, canUpdate: false, secured: false },
        { name: 'modifiedon', type: 'Text', valueKind: 'text', custom: false, canRead: true, canUpdate: true, secured: false },
      ],
    };
    const plan = planFields(registry.get('contact'), other, 'all');
    expect(plan.synced).toEqual(['company_ref', 'modifiedon']);
    expect(plan.pushable).toEqual(['modifiedon']);
    expect(plan.excluded).toEqual([{ field: 'updated_at', reason: 'system-column' }]);
  });
});
