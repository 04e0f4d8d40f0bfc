/**
 * `pnpm bench`: every benchmark figure beside its reference, measured in the same run on the
 * same machine. Medians of several runs and ratios; nothing here fails on a timing. Prints the
 * table, writes results/latest.json and the generated part of the root BENCHMARKS.md.
 */
import { fileURLToPath } from 'node:url';
import { DEFAULT_LIMITS } from '@crm-sync/dynamics-simulator';
import { startThrowawayPostgres } from '@crm-sync/postgres-tooling';
import type { SyncEngine } from '@crm-sync/core';
import { CLOCK_SCALE, holdAnswers, quick, ROW_COST, sizes, SUITES, suites, WEB_SERVERS, WINDOW_SCALE } from './config.js';
import type { Figure, Run } from './lib/figure.js';
import { log } from './lib/log.js';
import { countingPool, freshPostgresStore, postgresStore } from './lib/postgres.js';
import { machine, printReport, updateBenchmarksMd, writeJson } from './lib/report.js';
import type { Report } from './lib/report.js';
import { createRunner, runCycleChecked } from './lib/wiring.js';
import { measureChanges } from './measures/changes.js';
import { measureCopy } from './measures/copy.js';
import { embeddedDirs, measureEmbeddedMemory, measureEmbeddedSync } from './measures/embedded.js';
import { measureFanOut } from './measures/fan-out.js';
import { measureInitialSync } from './measures/initial-sync.js';
import { measureMemory } from './measures/memory.js';
import { measureBulkPush, measurePush } from './measures/push.js';
import { measureQuietCycle } from './measures/quiet-cycle.js';
import { measureThrottling, measureWebServers } from './measures/throttling.js';
import { webApiFigures } from './measures/web-api.js';
import { startSimulatorProcess } from './simulator/process.js';
import type { SimulatorProcess } from './simulator/process.js';

const started = performance.now();
const figures: Figure[] = [];
const errors: string[] = [];
const cleanups: Array<() => unknown> = [];
const cleanUp = async () => {
  for (const step of cleanups.reverse().splice(0)) await Promise.resolve(step()).catch(() => undefined);
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanUp().then(() => process.exit(130)));

/** Runs one suite; a failure is reported with the figures and the other suites go on. */
async function suite(name: string, work: () => Promise<unknown>): Promise<void> {
  log(`\n== ${name}`);
  const suiteStarted = performance.now();
  try {
    await work();
  } catch (error) {
    errors.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    log(`  failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  log(`  (${name.split(' (')[0]}: ${Math.round((performance.now() - suiteStarted) / 1000)} s)`);
}

async function simulator(options: Parameters<typeof startSimulatorProcess>[0]): Promise<SimulatorProcess> {
  const sim = await startSimulatorProcess({ seed: 1, requestLogSize: 100_000, ...options });
  cleanups.push(() => sim.stop());
  return sim;
}

/** Items 7 and 8: the documented limits with the window scaled down, answers held for their execution time. */
const throttledLimits = () => ({
  enabled: true,
  windowMs: DEFAULT_LIMITS.windowMs / WINDOW_SCALE,
  maxRequests: DEFAULT_LIMITS.maxRequests / WINDOW_SCALE,
  maxExecutionMs: DEFAULT_LIMITS.maxExecutionMs / WINDOW_SCALE,
  maxConcurrent: DEFAULT_LIMITS.maxConcurrent,
  cost: ROW_COST,
  holdAnswers,
});

const postgres = startThrowawayPostgres();
cleanups.push(() => postgres.stop());
const { pool, statements } = countingPool(postgres.url);
cleanups.push(() => pool.end());
const n = (x: number) => x.toLocaleString('en-US');
let webApiOff: { runs: Run[]; failures: string[]; what: string } | null = null;
let webApiOn: { runs: Run[]; failures: string[]; what: string } | null = null;

try {
  if (suites.includes('pull') || suites.includes('copy')) {
    const sim = await simulator({ contacts: sizes.initialContacts, leads: sizes.initialContacts / 4, limits: { enabled: false } });
    if (suites.includes('pull')) {
      await suite(`initial sync, ${n(sizes.initialContacts)} contacts (items 1 and 8), then quiet cycles (4)`, async () => {
        const initial = await measureInitialSync({ sim, pool, runs: sizes.runs });
        figures.push(...initial.figures);
        webApiOff = { runs: initial.clients, failures: initial.webApiFailures, what: 'accounts, contacts, leads' };
        await suite('quiet cycle (item 4)', async () => figures.push(...(await measureQuietCycle({ sim, store: initial.store, runs: sizes.runs }))));
        await pool.query(`drop schema "${initial.schema}" cascade`);
      });
    }
    if (suites.includes('copy')) {
      await suite('page writes against COPY (item 2)', async () => figures.push(...(await measureCopy({ sim, pool, runs: sizes.runs, pages: sizes.copyPages }))));
    }
    await sim.stop();
  }

  if (suites.includes('push')) {
    await suite('pushes: contact edits, new persons with CreateMultiple and $batch (item 9)', async () => {
      // Each run edits its own contacts (twice as many: the reference PATCHes the others); the sync filter keeps some out.
      const contacts = Math.ceil(sizes.pushEdits * 2 * sizes.runs * 1.25);
      const sim = await simulator({ contacts, accounts: contacts / 100, leads: 1_000, opportunities: 0, memberships: 0, limits: { enabled: false } });
      const store = await freshPostgresStore(pool, 'push');
      const loader = createRunner({ url: sim.url, store, entities: ['contact', 'lead'] }).engine;
      const loaded = await runCycleChecked(loader);
      await loader.stop(); // its leases go to the measured engines
      log(`  loaded ${n(loaded.records)} records in ${Math.round(loaded.ms)} ms`);
      await suite('contact edits (item 9)', async () => figures.push(...(await measurePush({ sim, store, runs: sizes.runs, edits: sizes.pushEdits }))));
      await suite('new persons, CreateMultiple beside $batch (item 9)', async () =>
        figures.push(...(await measureBulkPush({ sim, store, runs: sizes.runs, creates: sizes.pushCreates }))));
      await pool.query('drop schema "push" cascade');
      await sim.stop();
    });
  }

  if (suites.includes('tables')) {
    await suite(`synced tables of ${n(sizes.smallTable)} and ${n(sizes.largeTable)} contacts (items 3, 5, 6)`, async () => {
      const table = (contacts: number, largeAccounts?: number[]) =>
        simulator({ contacts, accounts: contacts / 1000, leads: 0, opportunities: 0, memberships: 0, limits: { enabled: false }, ...(largeAccounts ? { largeAccounts } : {}) });
      const small = { sim: await table(sizes.smallTable), schema: 'table_small' };
      const large = { sim: await table(sizes.largeTable, sizes.largeAccounts), schema: 'table_large' };
      figures.push(...(await measureMemory({ databaseUrl: postgres.url, small, large })));
      const engines: SyncEngine[] = [];
      const synced = (t: typeof small) => {
        const { engine } = createRunner({ url: t.sim.url, store: postgresStore(pool, t.schema), entities: ['account', 'contact'] });
        engines.push(engine);
        return { sim: t.sim, engine };
      };
      const smallTable = synced(small);
      const largeTable = synced(large);
      await suite('changed rows against table size (item 5)', async () =>
        figures.push(...(await measureChanges({ small: smallTable, large: largeTable, statements, runs: sizes.runs, changes: sizes.changedRows }))));
      await suite('account fan-out (item 6)', async () =>
        figures.push(...(await measureFanOut({ table: largeTable, pool, statements, schema: large.schema, runs: sizes.runs }))));
      for (const engine of engines) await engine.stop();
    });
  }

  if (suites.includes('limits')) {
    await suite('service protection limits on (items 7 and 8)', async () => {
      const sim = await simulator({
        contacts: sizes.throttledContacts, accounts: 100, leads: 0, opportunities: 0, memberships: 0, clockScale: CLOCK_SCALE,
        limits: throttledLimits(),
      });
      const throttling = await measureThrottling({ sim, runs: sizes.runs, clockScale: CLOCK_SCALE });
      figures.push(...throttling.figures);
      webApiOn = { runs: throttling.clients, failures: throttling.webApiFailures, what: `${n(sizes.throttledContacts)} contacts` };
      await sim.stop();
    });
    await suite(`service protection limits on, ${WEB_SERVERS} web servers (item 7)`, async () => {
      const sim = await simulator({
        contacts: sizes.throttledContacts, accounts: 100, leads: 0, opportunities: 0, memberships: 0, clockScale: CLOCK_SCALE,
        limits: { ...throttledLimits(), webServers: WEB_SERVERS, dopHint: DEFAULT_LIMITS.dopHint * WEB_SERVERS },
      });
      figures.push(...(await measureWebServers({ sim, runs: sizes.runs, clockScale: CLOCK_SCALE })));
      await sim.stop();
    });
  }
  if (suites.includes('embedded')) {
    await suite('embedded store beside the PostgreSQL server store (items 1, 3, 4)', async () => {
      const dirs = embeddedDirs();
      cleanups.push(() => dirs.remove());
      const sim = await simulator({ contacts: sizes.initialContacts, leads: sizes.initialContacts / 4, limits: { enabled: false } });
      await suite('initial sync and quiet cycle, embedded and server (items 1, 4)', async () =>
        figures.push(...(await measureEmbeddedSync({ sim, pool, runs: sizes.runs, dirs }))));
      await sim.stop();
      await suite(`peak RSS, embedded and server, ${n(sizes.smallTable)} and ${n(sizes.largeTable)} contacts (item 3)`, async () => {
        const tables = [];
        for (const contacts of [sizes.smallTable, sizes.largeTable]) {
          tables.push({ sim: await simulator({ contacts, accounts: contacts / 1000, leads: 0, opportunities: 0, memberships: 0, limits: { enabled: false } }), contacts });
        }
        figures.push(...(await measureEmbeddedMemory({ databaseUrl: postgres.url, tables, dirs })));
        for (const table of tables) await table.sim.stop();
      });
    });
  }
  if (webApiOff && webApiOn) figures.push(...webApiFigures({ off: webApiOff, on: webApiOn }));

  const version = (await pool.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]?.v ?? '?';
  const report: Report = {
    date: new Date().toISOString(),
    command: `${quick ? 'CRM_SYNC_BENCH_QUICK=1 ' : ''}${holdAnswers ? '' : 'CRM_SYNC_BENCH_HOLD_ANSWERS=0 '}${process.env.CRM_SYNC_BENCH_RUNS ? `CRM_SYNC_BENCH_RUNS=${sizes.runs} ` : ''}pnpm bench`,
    quick,
    durationSeconds: (performance.now() - started) / 1000,
    machine: machine(`PostgreSQL ${version}`),
    figures: [...figures].sort((a, b) => a.item - b.item),
    errors,
  };
  printReport(report);
  const complete = !quick && holdAnswers && suites.length === SUITES.length;
  writeJson(fileURLToPath(new URL(`../results/${complete ? 'latest' : 'partial'}.json`, import.meta.url)), report);
  if (complete) updateBenchmarksMd(fileURLToPath(new URL('../../../BENCHMARKS.md', import.meta.url)), report);
  process.exitCode = errors.length > 0 ? 1 : 0;
} finally {
  await cleanUp();
}
