import { describe, expect, it } from 'vitest';
import type { CrmEntitySchema, CrmField } from '../contracts/crm.js';
import { createEntityRegistry } from '../entities.js';
import { fieldAddition, planFields } from './fields.js';

const registry = createEntityRegistry();
const column = (name: string, extra: Partial<CrmField> = {}): CrmField => ({
  name, type: 'String', valueKind: 'text', custom: false, canRead: true, canUpdate: true, secured: false, ...extra,
});
const schema: CrmEntitySchema = {
  entity: 'contact',
  changeTracking: true,
  fields: [
    column('contactid', { type: 'Uniqueidentifier', valueKind: 'id', primaryKey: true, canUpdate: false }),
    column('firstname'),
    column('jobtitle'),
    column('modifiedon', { type: 'DateTime', valueKind: 'datetime', systemMaintained: true, canUpdate: false }),
    column('new_secret', { secured: true, canRead: false, canUpdate: false, reason: 'secured by field security and the sync user has no read permission' }),
    column('fullname_virtual', { type: 'Virtual', valueKind: 'other', canRead: false, canUpdate: false }),
  ],
};
const contact = registry.get('contact');
const add = (selection: readonly string[] | 'all', field: string) => fieldAddition(contact, schema, planFields(contact, schema, selection), field);

describe('fieldAddition (R6, R10): can a field be added to the sync, and why not', () => {
  it('adds a readable field the selection leaves out', () => {
    expect(add(['firstname'], 'jobtitle')).toEqual({ kind: 'add' });
    expect(add(['firstname'], 'modifiedon')).toEqual({ kind: 'add' }); // a bookkeeping column, named
  });

  it('says a field is already in the plan', () => {
    expect(add('all', 'jobtitle')).toEqual({ kind: 'in-plan' });
    expect(add(['firstname', 'modifiedon'], 'modifiedon')).toEqual({ kind: 'in-plan' });
  });

  it('refuses a bookkeeping column under "all": adding a name changes nothing there', () => {
    const decision = add('all', 'modifiedon');
    expect(decision).toMatchObject({ kind: 'refused', code: 'FIELD_NOT_ADDABLE' });
    expect(decision.kind === 'refused' && decision.reason).toBe(
      'contact.modifiedon is a CRM bookkeeping column, left out of the selection "all" (it changes on every write); to sync it, list the fields of sync.entities.contact.fields, modifiedon among them',
    );
  });

  it('refuses what the sync user cannot read, with the CRM reason, and what the CRM does not have', () => {
    expect(add('all', 'new_secret')).toEqual({
      kind: 'refused', code: 'FIELD_NOT_READABLE',
      reason: 'contact.new_secret cannot be read by the sync user: secured by field security and the sync user has no read permission',
    });
    expect(add(['firstname'], 'fullname_virtual')).toMatchObject({ kind: 'refused', code: 'FIELD_NOT_READABLE', reason: expect.stringContaining('not valid for read') });
    expect(add('all', 'no_such_column')).toEqual({
      kind: 'refused', code: 'FIELD_NOT_IN_CRM',
      reason: 'contact.no_such_column does not exist in the CRM (crm-sync never creates CRM fields)',
    });
  });

  it('refuses the primary key: every record carries it as its id', () => {
    expect(add('all', 'contactid')).toEqual({
      kind: 'refused', code: 'FIELD_NOT_ADDABLE',
      reason: 'contact.contactid is the primary key: every record already carries it as its CRM id',
    });
  });
});
