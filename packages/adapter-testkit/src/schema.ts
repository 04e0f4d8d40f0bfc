import type { CrmField, FieldValueKind } from '@crm-sync/core';
import { expect } from 'vitest';
import { lead } from './context.js';
import type { KitContext, KitTest } from './context.js';

const KINDS: readonly FieldValueKind[] = ['text', 'integer', 'number', 'boolean', 'datetime', 'choice', 'lookup', 'id', 'other'];

const fieldNamed = (fields: readonly CrmField[], name: string): CrmField => {
  const field = fields.find((f) => f.name === name);
  expect(field, `describeEntity(lead) lists no field ${name}`).toBeDefined();
  return field as CrmField;
};

export const schemaTests = (ctx: KitContext) => ({
  'whoAmI() returns the sync user the CRM knows': () =>
    ctx.withCrm(async ({ adapter, control }) => {
      const me = await adapter.whoAmI();
      expect(me.userId).toBe(control.syncUserId);
      expect(me.organizationId === null || (typeof me.organizationId === 'string' && me.organizationId !== '')).toBe(true);
    }),

  'R6: describeEntity() lists each field once with its kind, and why the sync user cannot read or update one': () =>
    ctx.withCrm(async ({ adapter, fields }) => {
      const schema = await adapter.describeEntity(lead);
      expect(schema.entity).toBe('lead');
      expect(typeof schema.changeTracking).toBe('boolean');
      const names = schema.fields.map((f) => f.name);
      expect(new Set(names).size).toBe(names.length);
      for (const name of fields) expect(fieldNamed(schema.fields, name)).toMatchObject({ canRead: true, canUpdate: true });
      for (const field of schema.fields) {
        expect(KINDS, `${field.name}: valueKind`).toContain(field.valueKind);
        expect(typeof field.type, `${field.name}: type`).toBe('string');
        if (!field.canRead || !field.canUpdate) expect(field.reason, `${field.name}: reason`).toMatch(/\S/);
      }
    }),

  'R6: describeEntity() reports a column the sync user may read but not update, and one it may not read, each with the reason': () =>
    ctx.withCrm(async ({ adapter, control }) => {
      await control.addColumn(lead.name, 'kit_readonly');
      await control.addColumn(lead.name, 'kit_hidden');
      await control.setFieldAccess(lead.name, 'kit_readonly', { read: true, update: false });
      await control.setFieldAccess(lead.name, 'kit_hidden', { read: false, update: false });
      const { fields } = await adapter.describeEntity(lead, { fresh: true });
      const readonly = fieldNamed(fields, 'kit_readonly');
      expect(readonly).toMatchObject({ canRead: true, canUpdate: false });
      expect(readonly.reason).toMatch(/\S/);
      const hidden = fieldNamed(fields, 'kit_hidden');
      expect(hidden).toMatchObject({ canRead: false, canUpdate: false });
      expect(hidden.reason).toMatch(/\S/);
    }),

  'R9: describeEntity({ fresh: true }) lists a column added in the CRM since the last call': () =>
    ctx.withCrm(async ({ adapter, control }) => {
      expect((await adapter.describeEntity(lead)).fields.map((f) => f.name)).not.toContain('kit_added');
      await control.addColumn(lead.name, 'kit_added');
      const { fields } = await adapter.describeEntity(lead, { fresh: true });
      expect(fieldNamed(fields, 'kit_added')).toMatchObject({ valueKind: 'text', custom: true, canRead: true, canUpdate: true });
    }),
} satisfies Record<string, KitTest>);
