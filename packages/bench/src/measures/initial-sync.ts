/**
 * Item 1: initial sync rate (accounts, contacts, leads) into the memory store and into PostgreSQL,
 * beside the adapter's raw pull rate (no engine, no store) and the simulator's own page-serving
 * rate, all from the same simulator, interleaved run by run so drift on a shared machine hits
 * every series alike. The same runs pull with dynamics-web-api for item 8.
 */
import type { Pool } from 'pg';
import type { SyncStore } from '@crm-sync/core';
import { createMemoryStore } from '@crm-sync/memory-store';
import type { Figure, Run } from '../lib/figure.js';
import { makeFigure } from '../lib/figure.js';
import { log } from '../lib/log.js';
import { freshPostgresStore } from '../lib/postgres.js';
import { median, perSecond } from '../lib/stats.js';
import type { BenchEntity } from '../lib/wiring.js';
import { createRunner, ENTITIES, runCycleChecked } from '../lib/wiring.js';
import type { SimulatorProcess } from '../simulator/process.js';
import type { PullOutcome } from './pull.js';
import { adapterPull, servingRate, webApiPull } from './pull.js';

export interface InitialSyncResult {
  figures: Figure[];
  /** The PostgreSQL store of the last run, fully synced: the quiet-cycle and push figures use it. */
  store: SyncStore;
  schema: string;
  /** Per run: adapter alone against dynamics-web-api, limits off (item 8). */
  clients: Run[];
  webApiFailures: string[];
}

const rate = (outcome: PullOutcome, expected: number): number => (outcome.error || outcome.rows !== expected ? Number.NaN : perSecond(outcome.rows, outcome.ms));

export async function measureInitialSync(options: { sim: SimulatorProcess; pool: Pool; runs: number; entities?: readonly BenchEntity[] }): Promise<InitialSyncResult> {
  const { sim, pool } = options;
  const entities = options.entities ?? ENTITIES;
  const expected = entities.reduce((sum, e) => sum + sim.dataset.counts[e], 0);
  const serving: Run[] = [];
  const memory: Run[] = [];
  const postgres: Run[] = [];
  const clients: Run[] = [];
  const cpu = { memory: [] as number[], postgres: [] as number[] };
  const webApiFailures: string[] = [];
  let store: SyncStore | null = null;
  let schema = '';

  // Limits are off, but the simulator still counts requests and execution time in its
  // x-ms-ratelimit-* headers, which the adapter paces on: every load starts with a fresh window.
  const fresh = <T>(load: () => Promise<T>) => sim.control.resetLimits().then(load);
  for (let run = 1; run <= options.runs; run += 1) {
    const bare = await fresh(() => servingRate(sim.url, entities));
    const adapter = await fresh(() => adapterPull(sim.url, entities));
    const webApi = await fresh(() => webApiPull(sim.url, entities));
    if (webApi.error) webApiFailures.push(webApi.error);

    const inMemory = await fresh(() => runCycleChecked(createRunner({ url: sim.url, store: createMemoryStore(), entities }).engine));

    const previous = schema;
    schema = `initial_${run}`;
    store = await freshPostgresStore(pool, schema);
    if (previous) await pool.query(`drop schema "${previous}" cascade`);
    const runner = createRunner({ url: sim.url, store, entities });
    const inPostgres = await fresh(() => runCycleChecked(runner.engine));
    await runner.engine.stop(); // hands the leases back for the runners that use this store next

    const adapterRate = rate(adapter, expected);
    serving.push({ value: adapterRate, reference: rate(bare, expected) });
    memory.push({ value: perSecond(inMemory.records, inMemory.ms), reference: adapterRate });
    postgres.push({ value: perSecond(inPostgres.records, inPostgres.ms), reference: adapterRate });
    clients.push({ value: adapterRate, reference: rate(webApi, expected) });
    cpu.memory.push((inMemory.cpuMs * 1000) / inMemory.records);
    cpu.postgres.push((inPostgres.cpuMs * 1000) / inPostgres.records);
    log(
      `  run ${run}: serving ${Math.round(rate(bare, expected))}/s, adapter ${Math.round(adapterRate)}/s, dynamics-web-api ${Math.round(rate(webApi, expected))}/s, ` +
        `memory ${Math.round(perSecond(inMemory.records, inMemory.ms))}/s, postgres ${Math.round(perSecond(inPostgres.records, inPostgres.ms))}/s`,
    );
  }

  const what = `${entities.join(', ')}: ${expected.toLocaleString('en-US')} records`;
  const us = (values: number[]) => `${Math.round(median(values))} µs`;
  const figures = [
    makeFigure({
      key: 'initial-sync.memory', item: 1, label: `Initial sync into the memory store (${what})`, unit: 'records/s',
      reference: { label: 'adapter alone, no engine or store', unit: 'records/s' }, target: '≥ 50,000 records/s',
      runs: memory, met: ({ value }) => value >= 50_000,
      note: `runner CPU per record: ${us(cpu.memory)}`,
    }),
    makeFigure({
      key: 'initial-sync.postgres', item: 1, label: `Initial sync into PostgreSQL (${what})`, unit: 'records/s',
      reference: { label: 'adapter alone, no engine or store', unit: 'records/s' }, target: '≥ 25,000 records/s',
      runs: postgres, met: ({ value }) => value >= 25_000,
      note: `runner CPU per record (PostgreSQL's own CPU not counted): ${us(cpu.postgres)}`,
    }),
    makeFigure({
      key: 'initial-sync.adapter-alone', item: 1, label: 'Adapter alone: full pull, no engine or store (the reference above)', unit: 'records/s',
      reference: { label: "simulator's own page-serving rate (bare GETs)", unit: 'records/s' },
      runs: serving,
    }),
  ];
  return { figures, store: store as SyncStore, schema, clients, webApiFailures };
}
