import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEntityRegistry } from '../entities.js';
import type { FieldMap } from '../values.js';
import { mergeRecord } from './merge.js';

const registry = createEntityRegistry();
const lead = registry.get('lead');
const contact = registry.get('contact');
const account = registry.get('account');
const fields = ['a', 'b', 'c', 'd'];

describe('mergeRecord (R2)', () => {
  it('keeps a local-only change and marks it pending, takes a CRM-only change', () => {
    const r = mergeRecord({
      entity: contact,
      fields: ['email', 'phone'],
      base: { email: 'old@x.io', phone: '1' },
      local: { email: 'new@x.io', phone: '1' },
      crm: { email: 'old@x.io', phone: '2' },
    });
    expect(r.fields).toEqual({ email: 'new@x.io', phone: '2' });
    expect(r.pending).toEqual(['email']);
    expect(r.base).toEqual({ email: 'old@x.io', phone: '2' });
    expect(r.changes).toEqual([{ field: 'phone', oldValue: '1', newValue: '2' }]);
    expect(r.collisions).toEqual([]);
  });

  it('lets local win a same-field collision on a lead, and records it', () => {
    const r = mergeRecord({ entity: lead, fields: ['title'], base: { title: 'A' }, local: { title: 'L' }, crm: { title: 'C' } });
    expect(r.fields.title).toBe('L');
    expect(r.pending).toEqual(['title']);
    expect(r.collisions).toEqual([{ field: 'title', localValue: 'L', crmValue: 'C', winner: 'local' }]);
    expect(r.changes).toEqual([]);
  });

  it('lets the CRM win a same-field collision on a contact, and records it', () => {
    const r = mergeRecord({ entity: contact, fields: ['title'], base: { title: 'A' }, local: { title: 'L' }, crm: { title: 'C' } });
    expect(r.fields.title).toBe('C');
    expect(r.pending).toEqual([]);
    expect(r.collisions).toEqual([{ field: 'title', localValue: 'L', crmValue: 'C', winner: 'crm' }]);
    expect(r.changes).toEqual([{ field: 'title', oldValue: 'L', newValue: 'C' }]);
  });

  it('treats the same change on both sides as agreement, not a collision', () => {
    const r = mergeRecord({ entity: lead, fields: ['x'], base: { x: 1 }, local: { x: 2 }, crm: { x: 2 } });
    expect(r.collisions).toEqual([]);
    expect(r.pending).toEqual([]);
    expect(r.base).toEqual({ x: 2 });
  });

  it('takes the CRM value for a field with no base yet (first sight, Quick Sync)', () => {
    const r = mergeRecord({ entity: lead, fields: ['x'], base: {}, local: { x: 'local' }, crm: { x: 'crm' } });
    expect(r.fields.x).toBe('crm');
    expect(r.collisions).toEqual([]);
  });

  it('overwrites every merged field of a one-way entity with the CRM value (R4)', () => {
    const r = mergeRecord({
      entity: account,
      fields: ['name', 'city'],
      base: { name: 'Acme', city: 'Oslo' },
      local: { name: 'Acme', city: 'Bergen (edited locally)' },
      crm: { name: 'Acme Inc', city: 'Oslo' },
    });
    expect(r.fields).toEqual({ name: 'Acme Inc', city: 'Oslo' });
    expect(r.pending).toEqual([]);
    expect(r.collisions).toEqual([]);
  });

  it('treats null and absent as the same value', () => {
    const r = mergeRecord({ entity: contact, fields: ['x'], base: { x: null }, local: {}, crm: { x: null } });
    expect(r.changes).toEqual([]);
    expect(r.pending).toEqual([]);
  });
});

const value = fc.oneof(fc.constantFrom('p', 'q', 'r'), fc.integer({ min: 0, max: 3 }), fc.boolean(), fc.constant(null));
const fieldMap = fc.record(Object.fromEntries(fields.map((f) => [f, value])) as Record<string, fc.Arbitrary<FieldMap[string]>>);
const entityArb = fc.constantFrom(lead, contact, account);

describe('mergeRecord properties (R2)', () => {
  it('applying the same CRM state twice changes nothing the second time', () => {
    fc.assert(
      fc.property(entityArb, fieldMap, fieldMap, fieldMap, (entity, base, local, crm) => {
        const first = mergeRecord({ entity, fields, base, local, crm });
        const second = mergeRecord({ entity, fields, base: first.base, local: first.fields, crm });
        expect(second.fields).toEqual(first.fields);
        expect(second.base).toEqual(first.base);
        expect(second.pending).toEqual(first.pending);
        expect(second.changes).toEqual([]);
        expect(second.collisions).toEqual([]);
      }),
    );
  });

  it('never loses a field changed on one side only', () => {
    fc.assert(
      fc.property(entityArb, fieldMap, fieldMap, fieldMap, (entity, base, local, crm) => {
        const r = mergeRecord({ entity, fields, base, local, crm });
        for (const f of fields) {
          const localChanged = local[f] !== base[f];
          const crmChanged = crm[f] !== base[f];
          if (crmChanged && !localChanged) expect(r.fields[f]).toBe(crm[f]);
          if (localChanged && !crmChanged && entity.direction === 'both') {
            expect(r.fields[f]).toBe(local[f]);
            expect(r.pending).toContain(f);
          }
        }
      }),
    );
  });

  it('gives a same-field collision to the side R2 names', () => {
    fc.assert(
      fc.property(entityArb, fieldMap, fieldMap, fieldMap, (entity, base, local, crm) => {
        const r = mergeRecord({ entity, fields, base, local, crm });
        for (const f of fields) {
          const collided = local[f] !== base[f] && crm[f] !== base[f] && local[f] !== crm[f];
          const recorded = r.collisions.find((c) => c.field === f);
          expect(Boolean(recorded)).toBe(collided);
          if (!collided) continue;
          const winner = entity.name === 'lead' ? 'local' : 'crm';
          expect(recorded?.winner).toBe(winner);
          expect(r.fields[f]).toBe(winner === 'local' ? local[f] : crm[f]);
        }
      }),
    );
  });

  it('always leaves the base at what the CRM holds, and pending exactly where local differs', () => {
    fc.assert(
      fc.property(entityArb, fieldMap, fieldMap, fieldMap, (entity, base, local, crm) => {
        const r = mergeRecord({ entity, fields, base, local, crm });
        expect(r.base).toEqual(crm);
        const differing = fields.filter((f) => r.fields[f] !== crm[f]);
        expect(r.pending).toEqual(entity.direction === 'both' ? differing : []);
      }),
    );
  });
});
