import { isSyncError } from '@crm-sync/core';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import { afterEach, describe, expect, it } from 'vitest';
import { allHarnesses, simulatorWithMemoryStoreName } from '../src/simulator-harness.js';
import type { World } from '../src/world.js';
import { createWorld, newId } from '../src/world.js';

const harnesses = allHarnesses(testDatabaseUrl());

describe.each(harnesses)('local edits: $name', (harness) => {
  let world: World;
  afterEach(async () => world?.close());
  const setup = async () => (world = await createWorld(harness));

  it('R12: a local delete removes the person locally only, drops its pending change, and a later CRM change brings it back as a new person', async () => {
    const w = await setup();
    const [lead, acc] = [newId(), newId()];
    await w.crm.put('lead', lead, { firstname: 'Lin', lastname: 'Deleted' });
    await w.crm.put('account', acc, { name: 'Acme' });
    await w.cycle();
    await w.engine.editLocal('lead', lead, { fields: { subject: 'Never pushed' } });
    await w.engine.deleteLocal('lead', lead);
    expect(await w.local('lead', lead)).toBeUndefined();
    expect((await w.activities('lead', lead)).at(-1)).toMatchObject({ type: 'local-deleted', source: 'local' });
    await w.cycle();
    expect(await w.local('lead', lead)).toBeUndefined();
    expect((await w.crm.get('lead', lead))?.subject ?? null).toBeNull();
    expect((await w.crm.get('lead', lead))?.lastname).toBe('Deleted');
    // Marketo: a person deleted locally and then changed in Dynamics comes back as a new person.
    await w.crm.put('lead', lead, { firstname: 'Linda' });
    await w.cycle();
    expect((await w.local('lead', lead))?.fields).toMatchObject({ firstname: 'Linda', lastname: 'Deleted' });
    expect((await w.activities('lead', lead)).map((a) => a.type).slice(-2)).toEqual(['local-deleted', 'new-person']);

    // A local person never created in the CRM is not created after its delete.
    const person = await w.engine.createPerson({ lastname: 'Gone before sync' });
    await w.engine.deleteLocal('lead', person.id);
    await w.cycle();
    expect(await w.crm.get('lead', person.id)).toBeNull();

    // Accounts and one-way records are the CRM's.
    const refused = await w.engine.deleteLocal('account', acc).catch((e: unknown) => e);
    expect(isSyncError(refused, 'LOCAL_EDIT_INVALID')).toBe(true);
    expect(await w.local('account', acc)).toBeDefined();
  });
});

// The simulator's metadata carries the limits Dataverse reports (MaxLength, RequiredLevel, option sets).
describe.each(harnesses.filter((h) => h.name.startsWith(simulatorWithMemoryStoreName)))('local edits checked against the CRM metadata: $name', (harness) => {
  let world: World;
  afterEach(async () => world?.close());

  it('refuses a value the CRM would refuse (length, option, type, required), naming the field and the limit, and writes nothing', async () => {
    const w = (world = await createWorld(harness));
    const lead = newId();
    await w.crm.put('lead', lead, { lastname: 'Lovelace', emailaddress1: 'ada@example.test' });
    await w.cycle();
    const before = await w.local('lead', lead);
    const cases: [Record<string, string | number | null>, string][] = [
      [{ emailaddress1: `${'x'.repeat(300)}@example.test` }, 'lead.emailaddress1: 313 characters, the CRM accepts at most 100'],
      [{ leadsourcecode: 99 }, "lead.leadsourcecode: 99 is not one of the CRM's option values (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)"],
      [{ lastname: null }, 'lead.lastname: required by the CRM: it cannot be cleared'],
      [{ telephone1: 5551234, firstname: 'Ada' }, 'lead.telephone1: must be text (a String column), got 5551234'],
    ];
    for (const [fields, text] of cases) {
      const error = await w.engine.editLocal('lead', lead, { fields }).catch((e: unknown) => e);
      expect(isSyncError(error, 'FIELD_VALUE_INVALID'), text).toBe(true);
      expect((error as Error).message).toContain(text);
    }
    const leads = (await w.store.stats('lead')).records;
    const created = await w.engine.createPerson({ lastname: 'New', subject: 'y'.repeat(301) }).catch((e: unknown) => e);
    expect(isSyncError(created, 'FIELD_VALUE_INVALID')).toBe(true);
    expect((created as Error).message).toContain('lead.subject: 301 characters, the CRM accepts at most 300');
    expect((await w.store.stats('lead')).records).toBe(leads);
    expect(await w.local('lead', lead)).toEqual(before);

    // Within every limit: accepted, pushed, nothing quarantined.
    await w.engine.editLocal('lead', lead, { fields: { emailaddress1: `${'x'.repeat(87)}@example.test`, leadsourcecode: 8 } });
    const summary = await w.cycle(['lead']);
    expect(summary.entities.find((e) => e.entity === 'lead')).toMatchObject({ pushed: 1, quarantined: 0 });
    expect(await w.crm.get('lead', lead)).toMatchObject({ emailaddress1: `${'x'.repeat(87)}@example.test`, leadsourcecode: 8 });
  });
});
