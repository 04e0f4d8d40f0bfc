import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import { afterEach, describe, expect, it } from 'vitest';
import type { Harness } from '../src/harness.js';
import { fakeCrmWithMemoryStore, fakeCrmWithPostgresStore } from '../src/harness.js';
import { createModel, prng } from '../src/model.js';
import { withSimulator } from '../src/simulator-harness.js';
import type { World } from '../src/world.js';
import { createWorld } from '../src/world.js';

/**
 * Randomized convergence: many cycles while both sides are edited, then quiet cycles, then both
 * sides are compared with an independent model of the rules (src/model.ts). Seeded: a failing seed
 * replays exactly with CRM_SYNC_E2E_SEEDS=<seed>.
 */
const SEEDS = (process.env.CRM_SYNC_E2E_SEEDS ?? '1,2,3').split(',').map(Number);
const CYCLES = 12;

const harnesses: Harness[] = [
  fakeCrmWithMemoryStore,
  withSimulator(fakeCrmWithMemoryStore),
  withSimulator(fakeCrmWithPostgresStore(testDatabaseUrl())),
];

describe.each(harnesses)('randomized convergence: $name', (harness) => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it.each(SEEDS)('seed %i: both sides end as the rules say', async (seed) => {
    console.log(`randomized convergence (${harness.name}): seed ${seed}; replay with CRM_SYNC_E2E_SEEDS=${seed}`);
    const w = (world = await createWorld(harness));
    const random = prng(seed);
    const model = createModel(w, random);
    await model.seed(4, 6, 10);
    await w.cycle();
    model.settle();
    for (let cycle = 0; cycle < CYCLES; cycle += 1) {
      await model.edit(3 + Math.floor(random() * 8));
      await w.cycle();
      model.settle();
    }
    await w.cycle();
    await w.cycle();
    expect(await model.compare(), `seed ${seed}`).toEqual([]);
  }, 120_000);
});
