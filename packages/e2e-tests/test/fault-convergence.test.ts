import { afterEach, describe, expect, it } from 'vitest';
import { fakeCrmWithMemoryStore } from '../src/harness.js';
import { faultMix } from '../src/faults.js';
import { createModel, prng } from '../src/model.js';
import { simulatorCrm } from '../src/simulator-harness.js';
import type { World } from '../src/world.js';
import { createWorld } from '../src/world.js';

/**
 * Fault convergence: 10% of requests fail in every way the simulator can fail (429, 500, 503,
 * dropped connections, slow answers, malformed bodies, rows of the wrong type) while both sides are
 * edited for 20+ cycles; after fault-free final cycles both sides must hold exactly what the model
 * of the rules says, no local edit lost, no record duplicated, every quarantine entry with a reason.
 * Seeds are printed; a failing one replays with CRM_SYNC_FAULT_SEEDS=<seed> and is then added to
 * REGRESSION_SEEDS.
 */
// 7: the soak seed that lost a delete to a delete row without its id (fixed; see RELIABILITY.md).
const REGRESSION_SEEDS: number[] = [7];
const SEEDS = [...(process.env.CRM_SYNC_FAULT_SEEDS ?? '101,202').split(',').map(Number), ...REGRESSION_SEEDS];
const CYCLES = 22;

describe('fault convergence against the simulator over HTTP', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it.each(SEEDS)('seed %i: faults on one request in ten for 22 cycles, then both sides as the rules say', async (seed) => {
    console.log(`fault convergence: seed ${seed}; replay with CRM_SYNC_FAULT_SEEDS=${seed}`);
    let crm: Awaited<ReturnType<typeof simulatorCrm>> | undefined;
    const w = (world = await createWorld({
      name: 'simulator with faults',
      crm: async () => (crm = await simulatorCrm()),
      store: fakeCrmWithMemoryStore.store,
    }));
    const control = crm!.control;
    const random = prng(seed);
    const model = createModel(w, random);
    await model.seed(4, 8, 12);
    await w.cycle();
    model.settle();
    control.setFaults(faultMix(seed));
    for (let cycle = 0; cycle < CYCLES; cycle += 1) {
      await model.edit(3 + Math.floor(random() * 8));
      await w.cycle();
      model.settle();
    }
    const injected = control.requestLog({ limit: 10_000 }).filter((e) => e.fault !== null).length;
    control.setFaults(null);
    await w.cycle();
    await w.cycle();
    expect(injected, 'faults were injected').toBeGreaterThan(10);
    expect(await model.compare(), `seed ${seed}`).toEqual([]);
    const quarantine = (await w.store.listQuarantine({ limit: 1_000, includeResolved: true })).items;
    expect(quarantine.every((q) => q.reason.length > 0)).toBe(true);
    expect((await w.store.listQuarantine({ limit: 1_000 })).items, 'open quarantine entries').toEqual([]);
  }, 240_000);
});
