/**
 * Item 5: a cycle's cost follows the number of changes, not the table size. The same number of
 * contacts is changed in the CRM of a small and of a large synced table (PostgreSQL), then one
 * cycle runs on each; the small table is the reference of the large one.
 */
import type { SyncEngine } from '@crm-sync/core';
import type { Figure, Run } from '../lib/figure.js';
import { makeFigure } from '../lib/figure.js';
import { log } from '../lib/log.js';
import type { StatementLog } from '../lib/postgres.js';
import { median } from '../lib/stats.js';
import { runCycleChecked } from '../lib/wiring.js';
import type { SimulatorProcess } from '../simulator/process.js';

export interface SyncedTable {
  sim: SimulatorProcess;
  engine: SyncEngine;
}

/** Changes `count` contacts spread over the whole table, as a salesperson would. */
async function changeContacts(sim: SimulatorProcess, count: number, run: number): Promise<void> {
  const staff = await sim.control.staffUser();
  const total = sim.dataset.counts.contact;
  const step = Math.floor(total / count);
  for (let i = 0; i < count; i += 1) {
    await sim.control.updateRow('contact', sim.dataset.idOf('contact', i * step + run), { jobtitle: `Changed in run ${run}` }, staff);
  }
}

/** One cycle after `count` changes; its duration and the time its SQL statements took. */
async function changedCycle(table: SyncedTable, statements: StatementLog, count: number, run: number): Promise<{ ms: number; sqlMs: number }> {
  await changeContacts(table.sim, count, run);
  await table.sim.control.resetLimits(); // a fresh x-ms-ratelimit window (limits are off)
  statements.reset();
  const cycle = await runCycleChecked(table.engine);
  if (cycle.records !== count) throw new Error(`expected ${count} changed records, the cycle pulled ${cycle.records}`);
  const sqlMs = [...statements.byKind().values()].reduce((sum, k) => sum + k.ms, 0);
  return { ms: cycle.ms, sqlMs };
}

export async function measureChanges(options: {
  small: SyncedTable;
  large: SyncedTable;
  statements: StatementLog;
  runs: number;
  changes: number;
}): Promise<Figure[]> {
  const { small, large, statements, changes } = options;
  const cycle = (table: SyncedTable, run: number) => changedCycle(table, statements, changes, run);
  const sql = { small: [] as number[], large: [] as number[] };
  await runCycleChecked(small.engine); // start-up cycles: the measured ones see only their changes
  await runCycleChecked(large.engine);
  // Unmeasured changed cycles first: each pool connection prepares a statement the first time it
  // sends it, a cost of the first cycles only that would otherwise land on whichever table meets it.
  for (const warmUp of [11, 12, 13]) { // other contacts than the measured runs change (i × step + run)
    await cycle(small, warmUp);
    await cycle(large, warmUp);
  }
  const runs: Run[] = [];
  for (let run = 1; run <= options.runs; run += 1) {
    // Alternate which table goes first, so neither always meets a warmer cache.
    const first = run % 2 === 1;
    const smallFirst = first ? await cycle(small, run) : null;
    const largeCycle = await cycle(large, run);
    const smallCycle = smallFirst ?? (await cycle(small, run));
    runs.push({ value: largeCycle.ms, reference: smallCycle.ms });
    sql.large.push(largeCycle.sqlMs);
    sql.small.push(smallCycle.sqlMs);
    log(
      `  run ${run}: ${Math.round(largeCycle.ms)} ms (SQL ${Math.round(largeCycle.sqlMs)} ms) at ${large.sim.dataset.counts.contact}, ` +
        `${Math.round(smallCycle.ms)} ms (SQL ${Math.round(smallCycle.sqlMs)} ms) at ${small.sim.dataset.counts.contact}`,
    );
  }
  const size = (t: SyncedTable) => t.sim.dataset.counts.contact.toLocaleString('en-US');
  return [
    makeFigure({
      key: 'changes.cycle-vs-table-size', item: 5, label: `Cycle with ${changes} changed contacts in a table of ${size(large)} (PostgreSQL)`, unit: 'ms',
      reference: { label: `the same in a table of ${size(small)}`, unit: 'ms' }, target: 'ratio ≤ 1.5',
      runs, met: ({ ratio }) => ratio <= 1.5,
      note: `time in SQL statements per cycle (median): ${Math.round(median(sql.large))} ms at ${size(large)}, ${Math.round(median(sql.small))} ms at ${size(small)}`,
    }),
  ];
}
