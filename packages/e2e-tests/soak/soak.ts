// Soak: the engine against the simulator over HTTP for a while, with faults and edits on both sides,
// checked against the model of the rules after every round. Not part of CI.
//   pnpm --filter @crm-sync/e2e-tests soak -- --minutes 30 [--seed 7] [--store postgres] [--fault-rate 0.1]
import { parseArgs } from 'node:util';
import { startThrowawayPostgres } from '@crm-sync/postgres-tooling';
import { fakeCrmWithMemoryStore, fakeCrmWithPostgresStore } from '../src/harness.js';
import { faultMix } from '../src/faults.js';
import { createModel, prng } from '../src/model.js';
import { simulatorCrm } from '../src/simulator-harness.js';
import { createWorld } from '../src/world.js';

const { values } = parseArgs({
  // `pnpm <script> -- --minutes 30` hands the `--` on.
  args: process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--')),
  options: {
    minutes: { type: 'string', default: '30' },
    seed: { type: 'string', default: '7' },
    store: { type: 'string', default: 'postgres' },
    'fault-rate': { type: 'string', default: '0.1' },
    'cycles-per-round': { type: 'string', default: '10' },
  },
});
const minutes = Number(values.minutes);
const seed = Number(values.seed);
const faultRate = Number(values['fault-rate']);
const perRound = Number(values['cycles-per-round']);
if (!(minutes > 0) || !Number.isInteger(seed) || !(faultRate >= 0 && faultRate <= 1) || !(perRound > 0)) {
  console.error('soak: --minutes > 0, --seed an integer, --fault-rate in [0, 1], --cycles-per-round > 0');
  process.exit(2);
}

const postgres = values.store === 'postgres' ? startThrowawayPostgres() : null;
let crm: Awaited<ReturnType<typeof simulatorCrm>> | undefined;
const world = await createWorld({
  name: 'soak',
  crm: async () => (crm = await simulatorCrm({}, {})),
  store: postgres ? fakeCrmWithPostgresStore(postgres.url).store : fakeCrmWithMemoryStore.store,
});
const control = crm!.control;
const random = prng(seed);
const model = createModel(world, random);
const started = Date.now();
const totals = { rounds: 0, cycles: 0, edits: 0, faults: 0, failedCycles: 0, discrepancies: 0 };
const line = (text: string) => console.log(`[${((Date.now() - started) / 60_000).toFixed(1)} min] ${text}`);

line(`soak: seed ${seed}, store ${values.store}, fault rate ${faultRate}, ${minutes} min`);
await model.seed(10, 40, 80);
await world.cycle();
model.settle();
try {
  while (Date.now() - started < minutes * 60_000) {
    totals.rounds += 1;
    control.clearRequestLog();
    control.setFaults(faultMix(seed + totals.rounds, faultRate));
    for (let i = 0; i < perRound; i += 1) {
      totals.edits += await model.edit(3 + Math.floor(random() * 10));
      const summary = await world.engine.runCycle();
      totals.cycles += 1;
      if (summary.entities.some((e) => e.status === 'failed')) totals.failedCycles += 1;
      model.settle();
    }
    totals.faults += control.requestLog({ limit: 100_000 }).filter((e) => e.fault !== null).length;
    control.setFaults(null);
    await world.cycle();
    await world.cycle();
    totals.cycles += 2;
    const problems = await model.compare();
    totals.discrepancies += problems.length;
    for (const p of problems.slice(0, 5)) line(`  discrepancy: ${p}`);
    const counts = model.counts();
    line(
      `round ${totals.rounds}: cycles ${totals.cycles}, records ${counts.lead + counts.contact}, edits ${totals.edits}, ` +
        `faults survived ${totals.faults}, cycles with a failed entity ${totals.failedCycles}, discrepancies ${totals.discrepancies}, ` +
        `rss ${Math.round(process.memoryUsage().rss / 1e6)} MB`,
    );
  }
} finally {
  await world.close();
  postgres?.stop();
}
line(`done: ${JSON.stringify(totals)}`);
process.exit(totals.discrepancies === 0 ? 0 : 1);
