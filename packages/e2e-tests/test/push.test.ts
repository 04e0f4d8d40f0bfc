import { createSyncEngine } from '@crm-sync/core';
import type { CrmAdapter } from '@crm-sync/core';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import { afterEach, describe, expect, it } from 'vitest';
import { customEntities, fakeCrmWithMemoryStore, fakeCrmWithPostgresStore } from '../src/harness.js';
import type { World } from '../src/world.js';
import { createWorld } from '../src/world.js';

/** Pushes that go wrong half way: nothing a marketer typed may be lost or sent where it should not go. */
describe.each([fakeCrmWithMemoryStore, fakeCrmWithPostgresStore(testDatabaseUrl())])('push, when it goes wrong: $name', (harness) => {
  let world: World | undefined;
  afterEach(async () => world?.close());

  /** An engine over the world's store whose adapter is `wrap`ped. */
  const engineWith = (w: World, wrap: (base: CrmAdapter) => Partial<CrmAdapter>) => {
    const base = w.crm.adapter;
    const adapter: CrmAdapter = { ...base, describeEntity: (e, o) => base.describeEntity(e, o), ...wrap(base) };
    return createSyncEngine({ adapter, store: w.store, config: { customEntities }, runnerId: w.engine.runnerId });
  };
  const lead = (summary: Awaited<ReturnType<World['cycle']>>) => summary.entities.find((e) => e.entity === 'lead');

  it('R14: a local person not marked for sync is never created in the CRM, even once edited', async () => {
    const w = (world = await createWorld(harness));
    const person = await w.engine.createPerson({ lastname: 'Stays local' }, { syncToCrm: false });
    await w.engine.editLocal('lead', person.id, { fields: { subject: 'edited' } });
    expect(lead(await w.cycle())?.created).toBe(0);
    expect(await w.crm.get('lead', person.id)).toBeNull();
    expect((await w.store.stats('lead')).pending).toBe(0);
  });

  it('R14: a field a person was created without, filled in later, reaches the CRM', async () => {
    const w = (world = await createWorld(harness));
    const person = await w.engine.createPerson({ lastname: 'Created bare' });
    await w.cycle();
    await w.engine.editLocal('lead', person.id, { fields: { subject: 'Filled in later' } });
    await w.cycle();
    await w.cycle();
    expect((await w.crm.get('lead', person.id))?.subject).toBe('Filled in later');
    expect((await w.local('lead', person.id))?.fields.subject).toBe('Filled in later');
  });

  it('a push the CRM refuses keeps the edits made while it was in flight', async () => {
    const w = (world = await createWorld(harness));
    const person = await w.engine.createPerson({ lastname: 'Refused', firstname: 'Ada' });
    await w.cycle();
    await w.engine.editLocal('lead', person.id, { fields: { subject: 'x'.repeat(150) } }); // too long: the CRM refuses it
    let edited = false;
    const engine = engineWith(w, (base) => ({
      async updateRecords(entity, updates) {
        if (!edited) {
          edited = true;
          await w.engine.editLocal('lead', person.id, { fields: { firstname: 'Inflight' } });
        }
        return base.updateRecords(entity, updates);
      },
    }));
    const first = lead(await engine.runCycle());
    expect(first?.quarantined).toBe(1);
    expect((await w.local('lead', person.id))?.pending).toEqual(['firstname']);
    await engine.runCycle();
    expect((await w.crm.get('lead', person.id))?.firstname).toBe('Inflight');
  });

  it('a create the CRM already has (an earlier attempt) sends the current values, not the earlier ones', async () => {
    const w = (world = await createWorld(harness));
    const person = await w.engine.createPerson({ lastname: 'Current' });
    const engine = engineWith(w, (base) => ({
      async createRecords(entity, creates) {
        // An earlier attempt got through with other values, and no pull has seen it yet.
        for (const c of creates) await w.crm.put('lead', c.id, { lastname: 'Earlier attempt' });
        return base.createRecords(entity, creates);
      },
    }));
    await engine.runCycle();
    await w.cycle();
    expect((await w.crm.get('lead', person.id))?.lastname).toBe('Current');
    expect((await w.local('lead', person.id))?.fields.lastname).toBe('Current');
  });

  it('R14: an edit made after a create whose answer was lost reaches the CRM', async () => {
    const w = (world = await createWorld(harness));
    const person = await w.engine.createPerson({ lastname: 'Sent', subject: 'A' });
    const engine = engineWith(w, (base) => ({
      async createRecords(entity, creates) {
        await base.createRecords(entity, creates);
        throw new Error('connection reset after the CRM answered');
      },
    }));
    await engine.runCycle().catch(() => undefined);
    expect((await w.local('lead', person.id))?.crmId).toBeNull();
    await w.engine.editLocal('lead', person.id, { fields: { subject: 'B' } });
    await w.cycle();
    await w.cycle();
    expect((await w.crm.get('lead', person.id))?.subject).toBe('B');
    expect((await w.local('lead', person.id))?.fields.subject).toBe('B');
  });
});
