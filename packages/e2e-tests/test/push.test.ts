import { createSyncEngine } from '@crm-sync/core';
import type { CrmAdapter } from '@crm-sync/core';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import { afterEach, describe, expect, it } from 'vitest';
import { customEntities, fakeCrmWithMemoryStore, fakeCrmWithPostgresStore } from '../src/harness.js';
import type { World } from '../src/world.js';
import { createWorld, newId } from '../src/world.js';

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

  describe('capabilities of the CRM adapter decide, not its name', () => {
    /** An adapter that cannot create with the caller's id: the CRM picks the id (as many CRMs do). */
    const crmPicksIds = (base: CrmAdapter, after?: () => never): Partial<CrmAdapter> => ({
      capabilities: { ...base.capabilities, createWithClientId: false },
      async createRecords(entity, creates) {
        const results = await base.createRecords(entity, creates.map((c) => ({ id: newId(), fields: c.fields })));
        if (after) after();
        return results;
      },
    });

    it("createWithClientId false: the CRM's id is kept, and the record syncs both ways under it", async () => {
      const w = (world = await createWorld(harness));
      const person = await w.engine.createPerson({ lastname: 'Picked', subject: 'A' });
      const engine = engineWith(w, (base) => crmPicksIds(base));
      expect(lead(await engine.runCycle())).toMatchObject({ status: 'ok', created: 1 });
      const crmId = (await w.local('lead', person.id))?.crmId;
      expect(crmId).toMatch(/^[0-9a-f-]{36}$/);
      expect(crmId).not.toBe(person.id);
      expect((await w.crm.get('lead', crmId as string))?.lastname).toBe('Picked');
      await w.crm.put('lead', crmId as string, { subject: 'From the CRM' });
      await engine.runCycle();
      expect((await w.local('lead', person.id))?.fields.subject).toBe('From the CRM');
      expect((await w.store.stats('lead')).records).toBe(1);
    });

    it('createWithClientId false: a create whose answer was lost is quarantined, never sent a second time', async () => {
      const w = (world = await createWorld(harness));
      const person = await w.engine.createPerson({ lastname: 'Unknown outcome' });
      let creates = 0;
      const engine = engineWith(w, (base) => {
        const picks = crmPicksIds(base, () => {
          throw new Error('connection reset after the CRM answered');
        });
        return { ...picks, createRecords: (entity, c) => ((creates += 1), (picks.createRecords as CrmAdapter['createRecords'])(entity, c)) };
      });
      expect(lead(await engine.runCycle())).toMatchObject({ status: 'failed' });
      await engine.runCycle();
      expect(creates).toBe(1);
      const local = await w.local('lead', person.id);
      expect(local?.crmId).toBeNull();
      expect(local?.syncToCrm).toBe(false);
      const open = (await w.store.listQuarantine({ entity: 'lead', limit: 10 })).items;
      expect(open.map((q) => q.recordId)).toEqual([person.id]);
      expect(open[0]?.reason).toMatch(/outcome is unknown \(connection reset after the CRM answered\).*could create a duplicate/);
    });

    it('batchWrites: a batching adapter gets the writes in one call, one writing row by row gets them one at a time', async () => {
      const w = (world = await createWorld(harness));
      const people = [];
      for (const name of ['One', 'Two', 'Three']) people.push(await w.engine.createPerson({ lastname: name }));
      await w.cycle();
      const calls: number[] = [];
      for (const batchWrites of [true, false]) {
        for (const p of people) await w.engine.editLocal('lead', p.id, { fields: { subject: `batch ${batchWrites}` } });
        const engine = engineWith(w, (base) => ({
          capabilities: { ...base.capabilities, batchWrites },
          updateRecords: (entity, updates) => (calls.push(updates.length), base.updateRecords(entity, updates)),
        }));
        expect(lead(await engine.runCycle())).toMatchObject({ status: 'ok', pushed: 3 });
      }
      expect(calls).toEqual([3, 1, 1, 1]);
    });

    it('writesPerCall: a batching adapter that asks for it gets that many writes per call (100 without)', async () => {
      const w = (world = await createWorld(harness));
      const people = [];
      for (let i = 0; i < 5; i += 1) people.push(await w.engine.createPerson({ lastname: `Person ${i}` }));
      await w.cycle();
      const calls: number[] = [];
      for (const p of people) await w.engine.editLocal('lead', p.id, { fields: { subject: 'in twos' } });
      const engine = engineWith(w, (base) => ({
        capabilities: { ...base.capabilities, batchWrites: true, writesPerCall: 2 },
        updateRecords: (entity, updates) => (calls.push(updates.length), base.updateRecords(entity, updates)),
      }));
      expect(lead(await engine.runCycle())).toMatchObject({ status: 'ok', pushed: 5 });
      expect(calls).toEqual([2, 2, 1]);
    });

    it('incrementalPull false: every cycle reads the whole table, and a row deleted in the CRM is flagged by reconciliation', async () => {
      const w = (world = await createWorld(harness));
      const ids = [newId(), newId(), newId()];
      for (const id of ids) await w.crm.put('lead', id, { lastname: id.slice(0, 8) });
      const checkpoints: Array<string | null> = [];
      const engine = engineWith(w, (base) => ({
        capabilities: { ...base.capabilities, incrementalPull: false },
        pullChanges: (entity, request) => {
          if (entity.name === 'lead') checkpoints.push(request.checkpoint);
          return base.pullChanges(entity, request);
        },
      }));
      await engine.runCycle();
      await w.crm.remove('lead', ids[0] as string);
      await w.crm.expireTokensAndForgetDeletes(); // no delete can come from a delta: only a full read finds it
      await engine.runCycle();
      expect(checkpoints).toEqual([null, null]);
      expect((await w.local('lead', ids[0] as string))?.crmDeleted).toBe(true);
      expect((await w.local('lead', ids[1] as string))?.crmDeleted).toBe(false);
    });
  });
});
