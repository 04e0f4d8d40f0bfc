import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeCrmWithMemoryStore, fakeCrmWithPostgresStore } from '../src/harness.js';
import { simulatorCrm } from '../src/simulator-harness.js';
import type { World } from '../src/world.js';
import { createWorld, newId } from '../src/world.js';

const stores = [fakeCrmWithMemoryStore, fakeCrmWithPostgresStore(testDatabaseUrl())];

describe.each(stores)('faults from the simulator over HTTP ($name)', (storeHarness) => {
  let world: World | undefined;
  let control: Awaited<ReturnType<typeof simulatorCrm>>['control'];
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });
  const setup = async () => {
    world = await createWorld({
      name: 'simulator',
      crm: async () => {
        const crm = await simulatorCrm();
        control = crm.control;
        return crm;
      },
      store: storeHarness.store,
    });
    return world;
  };

  it('quarantines a row of the wrong type with its reason while the page applies, and re-reads it', async () => {
    const w = await setup();
    const ids = Array.from({ length: 5 }, newId);
    for (const id of ids) await w.crm.put('contact', id, { firstname: 'Ok', lastname: 'Row' });
    // Every read of contacts carries one damaged row: the re-reads in the cycle fail too.
    control.setFaults({ seed: 3, rules: [{ kind: 'wrong-type', rate: 1, path: '/contacts' }] });
    const summary = await w.cycle();
    control.setFaults(null);
    const contact = summary.entities.find((e) => e.entity === 'contact');
    expect(contact?.status).toBe('ok');
    expect(contact?.quarantined).toBe(1);
    const [entry] = (await w.store.listQuarantine({ limit: 10, entity: 'contact' })).items;
    expect(entry?.direction).toBe('pull');
    expect(entry?.reason).toMatch(/expected|type/i);
    expect((await w.store.stats('contact')).records).toBe(4);
    // The next cycle re-reads it first (nothing changed in the CRM): applied, entry closed.
    await w.cycle();
    expect((await w.store.stats('contact')).records).toBe(5);
    expect((await w.local('contact', entry?.recordId as string))?.fields.firstname).toBe('Ok');
    expect((await w.store.listQuarantine({ limit: 10, entity: 'contact' })).items).toEqual([]);
  });

  it('rides out 429s, 5xx and dropped connections during a cycle and ends with every record once', async () => {
    const w = await setup();
    const ids = Array.from({ length: 600 }, newId);
    for (const id of ids) await w.crm.put('lead', id, { lastname: 'L' });
    control.setFaults({
      seed: 9,
      rules: [
        { kind: '429', rate: 0.15, retryAfterSeconds: 0 },
        { kind: '503', rate: 0.1 },
        { kind: 'drop', rate: 0.05 },
      ],
    });
    await w.cycle();
    for (const id of ids.slice(0, 50)) await w.engine.editLocal('lead', id, { fields: { subject: 'pushed through faults' } });
    await w.cycle();
    control.setFaults(null);
    await w.cycle();
    expect((await w.store.stats('lead')).records).toBe(600);
    expect((await w.store.stats('lead')).pending).toBe(0);
    for (const id of ids.slice(0, 50)) expect((await w.crm.get('lead', id))?.subject).toBe('pushed through faults');
  });
});
