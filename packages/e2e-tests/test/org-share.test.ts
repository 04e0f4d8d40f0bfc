import type { SyncEngine, SyncEvent } from '@crm-sync/core';
import { createSyncEngine } from '@crm-sync/core';
import { createDynamicsAdapter } from '@crm-sync/dynamics-adapter';
import type { AdapterEvent } from '@crm-sync/dynamics-adapter';
import { startSimulatorServer } from '@crm-sync/dynamics-simulator';
import type { SimulatorServer } from '@crm-sync/dynamics-simulator';
import { createMemoryStore } from '@crm-sync/memory-store';
import { afterEach, describe, expect, it } from 'vitest';

let server: SimulatorServer | undefined;
const engines: SyncEngine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.stop();
  await server?.close();
});

describe('several runners on one org share its x-ms-dop-hint', () => {
  it('two engines on one store, one simulator: each sends at most half the hint, together never more than the hint', async () => {
    // The org recommends 8 in parallel and takes 8 at once; writes are slow enough to overlap.
    server = await startSimulatorServer({
      port: 0, seed: 3, accounts: 0, contacts: 60, leads: 60, opportunities: 0, memberships: 0, teams: 0, users: 3,
      limits: { dopHint: 8, maxConcurrent: 8 },
      faults: { rules: [{ kind: 'slow', rate: 1, method: 'POST', delayMs: 40 }] },
    });
    const store = createMemoryStore();
    const inFlight = { both: 0, bothPeak: 0 };
    const runner = (runnerId: string) => {
      const log: Array<{ adapter: AdapterEvent } | { engine: SyncEvent }> = [];
      const flight = { now: 0, peak: 0 };
      const adapter = createDynamicsAdapter({
        environmentUrl: server!.url,
        auth: { kind: 'static-token', token: server!.simulator.tokens.sync },
        batchSize: 5,
        retry: { baseDelayMs: 5, maxDelayMs: 20 },
        onEvent: (event) => log.push({ adapter: event }),
        fetch: async (input, init) => {
          flight.now += 1;
          inFlight.both += 1;
          flight.peak = Math.max(flight.peak, flight.now);
          inFlight.bothPeak = Math.max(inFlight.bothPeak, inFlight.both);
          try {
            return await fetch(input, init);
          } finally {
            flight.now -= 1;
            inFlight.both -= 1;
          }
        },
      });
      const engine = createSyncEngine({ adapter, store, runnerId, onEvent: (event) => log.push({ engine: event }) });
      engines.push(engine);
      return { engine, log, flight };
    };
    const a = runner('runner-a');
    const b = runner('runner-b');

    // Each takes the lease of its entity: A alone first (the whole hint), then B beside it.
    expect((await a.engine.runCycle({ entities: ['contact'] })).ok).toBe(true);
    expect(a.engine.orgShare).toEqual({ runners: 1, owners: ['runner-a'] });
    expect((await b.engine.runCycle({ entities: ['lead'] })).ok).toBe(true);
    expect(b.engine.orgShare).toEqual({ runners: 2, owners: ['runner-a', 'runner-b'] });

    // Both push 40 local changes at once, in batches of 5 that each hold a slot 40 ms.
    const edit = async (engine: SyncEngine, entity: string) => {
      const { items } = await store.listRecords(entity, { limit: 40 });
      expect(items).toHaveLength(40);
      for (const record of items) await engine.editLocal(entity, record.id, { fields: { firstname: `Shared ${record.id.slice(0, 6)}` } });
    };
    await edit(a.engine, 'contact');
    await edit(b.engine, 'lead');
    server.control.clearRequestLog();
    a.flight.peak = 0;
    b.flight.peak = 0;
    inFlight.bothPeak = 0;
    const [cycleA, cycleB] = await Promise.all([a.engine.runCycle({ entities: ['contact'] }), b.engine.runCycle({ entities: ['lead'] })]);
    expect(cycleA.entities.map((e) => [e.entity, e.status, e.pushed])).toEqual([['contact', 'ok', 40]]);
    expect(cycleB.entities.map((e) => [e.entity, e.status, e.pushed])).toEqual([['lead', 'ok', 40]]);
    expect(a.engine.orgShare.runners).toBe(2);

    for (const { log, flight } of [a, b]) {
      // From its share on (A learnt of B at the start of this cycle), every request allowed half the hint.
      const shared = log.findLastIndex((e) => 'engine' in e && e.engine.type === 'org-share' && e.engine.runners === 2);
      expect(shared).toBeGreaterThanOrEqual(0);
      const after = log.slice(shared).flatMap((e) => ('adapter' in e && e.adapter.type === 'request' && e.adapter.dopHint !== undefined ? [e.adapter] : []));
      expect(after.length).toBeGreaterThanOrEqual(8);
      for (const request of after) expect(request.concurrency).toBe(Math.max(1, Math.floor(request.dopHint! / 2)));
      expect(flight.peak).toBeGreaterThan(1);
      expect(flight.peak).toBeLessThanOrEqual(4);
    }
    // Together within the hint: the org never refused a request for concurrency.
    expect(inFlight.bothPeak).toBeLessThanOrEqual(8);
    expect(server.control.requestLog().filter((e) => e.status === 429)).toHaveLength(0);
  });
});
