import { describe, expect, it } from 'vitest';
import type { CrmEntitySchema, CrmField } from '../contracts/crm.js';
import { describeDrift, schemaDrift } from './drift.js';
import type { FieldPlan } from './fields.js';

const field = (name: string, canRead = true): CrmField => ({ name, type: 'String', valueKind: 'text', custom: true, canRead, canUpdate: canRead, secured: !canRead });
const schema = (...fields: CrmField[]): CrmEntitySchema => ({ entity: 'contact', fields, changeTracking: true });

describe('schemaDrift (R9)', () => {
  it('is nothing the first time and when nothing changed', () => {
    const plan: FieldPlan = { synced: ['a'], pushable: ['a'], excluded: [], unknown: [] };
    expect(schemaDrift(null, null, schema(field('a')), plan)).toBeNull();
    expect(schemaDrift(['a'], ['a'], schema(field('a')), plan)).toBeNull();
  });

  it('tells new columns (synced or why not), removed columns and fields that left the sync', () => {
    const plan: FieldPlan = {
      synced: ['a', 'b'], pushable: [], unknown: [],
      excluded: [{ field: 'c', reason: 'not-selected' }, { field: 'd', reason: 'secured-no-read-privilege' }],
    };
    const drift = schemaDrift(['a', 'd', 'gone'], ['a', 'd', 'gone'], schema(field('a'), field('b'), field('c'), field('d', false)), plan);
    expect(drift).toEqual({
      added: [{ field: 'b', synced: true }, { field: 'c', synced: false, reason: 'not-selected' }],
      removed: ['gone'],
      unsynced: [{ field: 'd', reason: 'secured-no-read-privilege' }, { field: 'gone', reason: 'removed-from-crm' }],
    });
    const text = describeDrift('contact', drift!);
    expect(text).toContain('new CRM column contact.b: synced');
    expect(text).toContain('new CRM column contact.c: not selected: add it to the sync with `crm-sync fields add`');
    expect(text).toContain('contact.d is no longer synced: secured column');
    expect(text).toContain('CRM column contact.gone was removed');
  });
});
