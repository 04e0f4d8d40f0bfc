/**
 * The embedded store (PGlite in the runner's process) beside the PostgreSQL server store, in the
 * same run: item 1's initial sync, a quiet cycle (item 4), and the peak RSS of a runner process
 * syncing 100,000 and 1,000,000 contacts (item 3). Each pair runs interleaved, server first.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Pool } from 'pg';
import type { SyncEngine } from '@crm-sync/core';
import { createEmbeddedStore } from '@crm-sync/postgres-store/embedded';
import type { EmbeddedStore } from '@crm-sync/postgres-store/embedded';
import type { Figure, Run } from '../lib/figure.js';
import { makeFigure } from '../lib/figure.js';
import { log } from '../lib/log.js';
import { freshPostgresStore } from '../lib/postgres.js';
import { median, perSecond } from '../lib/stats.js';
import { createRunner, ENTITIES, runCycleChecked } from '../lib/wiring.js';
import type { SimulatorProcess } from '../simulator/process.js';
import { quietRequestFigures, splitQuietRequests } from './quiet-cycle.js';

const run = promisify(execFile);
const child = fileURLToPath(new URL('../embedded/child.ts', import.meta.url));
const peakRssPreload = fileURLToPath(new URL('./peak-rss.mjs', import.meta.url));
const packageDir = fileURLToPath(new URL('../..', import.meta.url));

/** Data directories for the run: each a copy of one created empty (creating one takes seconds). */
export function embeddedDirs(): { fresh(name: string): Promise<string>; createMs(): number; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'crm-sync-bench-embedded-'));
  const template = join(root, 'template');
  let createMs = Number.NaN;
  return {
    async fresh(name) {
      if (!existsSync(template)) {
        const started = performance.now();
        await (await createEmbeddedStore({ dataDir: template })).close();
        createMs = performance.now() - started;
      }
      const dir = join(root, name);
      rmSync(dir, { recursive: true, force: true });
      cpSync(template, dir, { recursive: true });
      return dir;
    },
    createMs: () => createMs,
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

export async function measureEmbeddedSync(options: { sim: SimulatorProcess; pool: Pool; runs: number; dirs: ReturnType<typeof embeddedDirs> }): Promise<Figure[]> {
  const { sim, pool, dirs } = options;
  const rates: Run[] = [];
  const cpu: number[] = [];
  let engines: { postgres: SyncEngine; embedded: SyncEngine } | null = null;
  let embedded: EmbeddedStore | null = null;
  const fresh = <T>(load: () => Promise<T>) => sim.control.resetLimits().then(load);
  try {
    for (let i = 1; i <= options.runs; i += 1) {
      await engines?.postgres.stop();
      await embedded?.close();
      const postgresRunner = createRunner({ url: sim.url, store: await freshPostgresStore(pool, `embedded_ref_${i}`), entities: ENTITIES });
      if (i > 1) await pool.query(`drop schema "embedded_ref_${i - 1}" cascade`);
      const server = await fresh(() => runCycleChecked(postgresRunner.engine));
      embedded = await createEmbeddedStore({ dataDir: await dirs.fresh(`initial-${i}`) });
      const embeddedRunner = createRunner({ url: sim.url, store: embedded, entities: ENTITIES });
      const local = await fresh(() => runCycleChecked(embeddedRunner.engine));
      engines = { postgres: postgresRunner.engine, embedded: embeddedRunner.engine };
      rates.push({ value: perSecond(local.records, local.ms), reference: perSecond(server.records, server.ms) });
      cpu.push((local.cpuMs * 1000) / local.records);
      log(`  run ${i}: postgres ${Math.round(perSecond(server.records, server.ms))}/s, embedded ${Math.round(perSecond(local.records, local.ms))}/s`);
    }
    const quiet = await quietCycles(sim, engines as NonNullable<typeof engines>, options.runs);
    const records = ENTITIES.reduce((sum, e) => sum + sim.dataset.counts[e], 0).toLocaleString('en-US');
    return [
      makeFigure({
        key: 'embedded.initial-sync', item: 1, label: `Initial sync into the embedded store (PGlite in the runner; ${records} records)`, unit: 'records/s',
        reference: { label: 'the PostgreSQL server store, same run', unit: 'records/s' }, target: '≥ 0.5× the PostgreSQL store',
        runs: rates, met: ({ ratio }) => ratio >= 0.5,
        note: `runner CPU per record, PGlite's included: ${Math.round(median(cpu))} µs; creating an empty data directory (first start): ${Math.round(dirs.createMs())} ms, not counted`,
      }),
      ...quiet,
    ];
  } finally {
    await engines?.postgres.stop();
    await engines?.embedded.stop();
    await embedded?.close();
    await pool.query(`drop schema if exists "embedded_ref_${options.runs}" cascade`);
  }
}

/** Item 4 on both stores, synced above: requests per entity and duration of cycles that find nothing. */
async function quietCycles(sim: SimulatorProcess, engines: { postgres: SyncEngine; embedded: SyncEngine }, runs: number): Promise<Figure[]> {
  const requests: { readsPerEntity: number; driftChecks: number }[] = [];
  const durations: Run[] = [];
  const cycle = async (engine: SyncEngine) => {
    await sim.control.resetLimits();
    const before = await sim.control.lastSeq();
    const outcome = await runCycleChecked(engine);
    if (outcome.records !== 0) throw new Error(`a quiet cycle pulled ${outcome.records} records`);
    return { ms: outcome.ms, requests: splitQuietRequests(await sim.control.requestsSince(before), ENTITIES.length) };
  };
  // A runner's first cycle after start-up is not measured (the figure is about a runner that goes on).
  await cycle(engines.postgres);
  await cycle(engines.embedded);
  for (let i = 1; i <= runs; i += 1) {
    const server = await cycle(engines.postgres);
    const local = await cycle(engines.embedded);
    requests.push(local.requests);
    durations.push({ value: local.ms, reference: server.ms });
    log(`  quiet cycle ${i}: postgres ${Math.round(server.ms)} ms, embedded ${Math.round(local.ms)} ms`);
  }
  return [
    ...quietRequestFigures('embedded.quiet-cycle', 'Quiet cycle, embedded store', ENTITIES, requests),
    makeFigure({
      key: 'embedded.quiet-cycle.duration', item: 4, label: 'Quiet cycle, embedded store: duration', unit: 'ms',
      reference: { label: 'the PostgreSQL store, same run', unit: 'ms' }, runs: durations,
    }),
  ];
}

interface ChildOutcome {
  peakRssMb: number;
  records: number;
  ms: number;
}

/** One runner process (embedded/child.ts) syncing accounts and contacts; its peak RSS. */
async function runnerProcess(env: Record<string, string>): Promise<ChildOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'crm-sync-bench-rss-'));
  try {
    const rssFile = join(dir, 'rss');
    const args = ['--heap-growing-percent=20', '--conditions=@crm-sync/source', '--import', 'tsx', '--import', peakRssPreload, child];
    const { stdout } = await run(process.execPath, args, { cwd: packageDir, env: { ...process.env, ...env, CRM_SYNC_BENCH_RSS_FILE: rssFile }, maxBuffer: 1 << 20 });
    const outcome = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { records: number; ms: number };
    return { peakRssMb: Number(readFileSync(rssFile, 'utf8')), ...outcome };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureEmbeddedMemory(options: {
  databaseUrl: string;
  tables: Array<{ sim: SimulatorProcess; contacts: number }>;
  dirs: ReturnType<typeof embeddedDirs>;
}): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const [i, table] of options.tables.entries()) {
    const schema = `embedded_rss_${i}`;
    const server = await runnerProcess({ STORE: 'postgres', DATABASE_URL: options.databaseUrl, SCHEMA: schema, SIMULATOR_URL: table.sim.url });
    const local = await runnerProcess({ STORE: 'embedded', DATA_DIR: await options.dirs.fresh(`rss-${i}`), SIMULATOR_URL: table.sim.url });
    const contacts = table.contacts.toLocaleString('en-US');
    log(`  ${contacts} contacts: postgres ${server.peakRssMb.toFixed(0)} MB, embedded ${local.peakRssMb.toFixed(0)} MB peak; ${Math.round(perSecond(local.records, local.ms))} records/s embedded`);
    figures.push(makeFigure({
      key: `embedded.memory.${i === 0 ? 'small' : 'large'}`, item: 3, label: `Peak RSS, runner process syncing ${contacts} contacts into the embedded store`, unit: 'MB',
      reference: { label: 'the same process with the PostgreSQL server store', unit: 'MB' },
      ...(i === 0 ? {} : { target: '≤ 400 MB', met: ({ value }: { value: number }) => value <= 400 }),
      runs: [{ value: local.peakRssMb, reference: server.peakRssMb }],
      note: `${Math.round(perSecond(local.records, local.ms))} records/s embedded, ${Math.round(perSecond(server.records, server.ms))} records/s server (one cycle, process start not counted); engine + adapter + store from source (tsx), heap growing 20% as the runner`,
    }));
  }
  return figures;
}
