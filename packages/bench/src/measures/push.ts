/**
 * Item 9: pushing local person edits. Edits go in through the engine (editLocal), then one cycle
 * pushes them; its requests come from the simulator's request log. The reference writes as many
 * other contacts with one PATCH each (same If-Match and Prefer as the adapter, as many in flight
 * as the adapter's default concurrency).
 */
import type { CrmAdapter, SyncStore } from '@crm-sync/core';
import type { Figure, Run } from '../lib/figure.js';
import { makeFigure } from '../lib/figure.js';
import { log } from '../lib/log.js';
import { perSecond } from '../lib/stats.js';
import { createRunner, runCycleChecked } from '../lib/wiring.js';
import type { SimulatorProcess } from '../simulator/process.js';

const IN_FLIGHT = 8; // the adapter's concurrency before a hint, and the simulator's default x-ms-dop-hint

/** Runs `work` over `items` with at most `limit` at once. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

async function patchEach(sim: SimulatorProcess, store: SyncStore, ids: readonly string[], run: number): Promise<number> {
  const records = await store.getRecords('contact', ids);
  const started = performance.now();
  await eachLimited(records, IN_FLIGHT, async (record) => {
    const response = await fetch(`${sim.url}/api/data/v9.2/contacts(${record.crmId})`, {
      method: 'PATCH',
      headers: {
        Authorization: 'Bearer sim-token-sync', Accept: 'application/json', 'Content-Type': 'application/json; charset=utf-8',
        'OData-Version': '4.0', 'If-Match': `W/"${record.crmVersion}"`, Prefer: 'return=representation',
      },
      body: JSON.stringify({ jobtitle: `Reference ${run}` }),
    });
    await response.text();
    if (!response.ok) throw new Error(`PATCH contacts(${record.crmId}): ${response.status}`);
  });
  return performance.now() - started;
}

export async function measurePush(options: { sim: SimulatorProcess; store: SyncStore; runs: number; edits: number }): Promise<Figure[]> {
  const { sim, store, edits } = options;
  const { engine } = createRunner({ url: sim.url, store, entities: ['contact'] });
  const startUp = await runCycleChecked(engine); // start-up cycle, so the measured one only pushes
  log(`  start-up cycle ${Math.round(startUp.ms)} ms`);
  // Contacts in the store (the sync filter keeps some out); each run edits and PATCHes its own.
  const ids = (await store.listRecords('contact', { limit: edits * 2 * options.runs })).items.map((r) => r.id);
  const requests: Run[] = [];
  const rates: Run[] = [];
  for (let run = 1; run <= options.runs; run += 1) {
    const first = (run - 1) * edits * 2;
    const edited = ids.slice(first, first + edits);
    const patched = ids.slice(first + edits, first + edits * 2);
    const editsStarted = performance.now();
    await eachLimited(edited, IN_FLIGHT, async (id) => {
      await engine.editLocal('contact', id, { fields: { jobtitle: `Edited ${run}` } });
    });

    // Limits are off, but the x-ms-ratelimit-* headers still count (and the adapter paces on
    // them): the reference's 10,000 requests must not slow the next push, nor the other way round.
    await sim.control.resetLimits();
    const before = await sim.control.lastSeq();
    const cycleStarted = performance.now();
    const cycle = await runCycleChecked(engine, ['contact']);
    const middle = await sim.control.lastSeq();
    await sim.control.resetLimits();
    const referenceMs = await patchEach(sim, store, patched, run);
    const after = await sim.control.lastSeq();
    const pending = (await store.stats('contact')).pending;
    if (pending !== 0) throw new Error(`${pending} contacts still pending after the push`);

    requests.push({ value: middle - before, reference: after - middle });
    rates.push({ value: perSecond(edits, cycle.ms), reference: perSecond(edits, referenceMs) });
    await sim.control.resetLimits();
    const pullBack = await runCycleChecked(engine, ['contact']); // pulls back what this run wrote, before the next run
    log(
      `  run ${run}: push ${middle - before} requests in ${Math.round(cycle.ms)} ms; one PATCH each: ${after - middle} requests in ${Math.round(referenceMs)} ms ` +
        `(set-up: edits ${Math.round(cycleStarted - editsStarted)} ms, pull back ${Math.round(pullBack.ms)} ms)`,
    );
  }
  await engine.stop();
  const what = `${edits.toLocaleString('en-US')} contact edits, PostgreSQL store`;
  return [
    makeFigure({
      key: 'push.requests', item: 9, label: `Push of ${what}: requests`, unit: 'requests',
      reference: { label: 'one PATCH per record', unit: 'requests' }, runs: requests,
      note: 'the cycle also reads the contact delta and metadata',
    }),
    makeFigure({
      key: 'push.rate', item: 9, label: `Push of ${what}: rate (whole cycle)`, unit: 'records/s',
      reference: { label: `one PATCH per record, ${IN_FLIGHT} in flight`, unit: 'records/s' }, runs: rates,
    }),
  ];
}

interface CreatePush {
  ms: number;
  /** Of `ms`, the time in the adapter's createRecords calls. */
  writeMs: number;
  requests: number;
  executionMs: number;
}

/**
 * Item 9 with bulk messages: one cycle pushing `creates` new local persons (R14: created in the CRM
 * as leads, with their local ids), once with CreateMultiple and once through `$batch` (the adapter
 * with bulk messages off), in the same run, alternating which goes first. Requests and the execution
 * time the simulator charged come from its request log. Contact edits are not measured with bulk
 * messages: they carry a version (R2) and always go through `$batch` (BENCHMARKS.md, item 9).
 */
export async function measureBulkPush(options: { sim: SimulatorProcess; store: SyncStore; runs: number; creates: number }): Promise<Figure[]> {
  const { sim, store, creates } = options;
  // One adapter each (its caches warm, as in a long-running runner); an engine per push, stopped
  // after it so the other mode's engine can take the lead's lease.
  // The time spent in the adapter's createRecords (the writes and their answers) beside the cycle's.
  const writeMs = { bulk: 0, batch: 0 };
  const timed = (mode: keyof typeof writeMs, adapter: CrmAdapter): CrmAdapter => ({
    ...adapter,
    createRecords: async (entity, rows) => {
      const started = performance.now();
      try {
        return await adapter.createRecords(entity, rows);
      } finally {
        writeMs[mode] += performance.now() - started;
      }
    },
  });
  const adapters = {
    bulk: timed('bulk', createRunner({ url: sim.url, store, entities: ['lead'] }).adapter),
    batch: timed('batch', createRunner({ url: sim.url, store, entities: ['lead'], adapter: { bulk: { enabled: false } } }).adapter),
  };
  const engineOf = (mode: keyof typeof adapters) => createRunner({ url: sim.url, store, entities: ['lead'], reuse: adapters[mode] }).engine;
  for (const mode of ['bulk', 'batch'] as const) {
    const engine = engineOf(mode);
    await runCycleChecked(engine, ['lead']); // start-up cycles: the measured ones only push
    await engine.stop();
  }
  const push = async (mode: keyof typeof adapters, run: number): Promise<CreatePush> => {
    const engine = engineOf(mode);
    await eachLimited(Array.from({ length: creates }, (_, i) => i), IN_FLIGHT, async (i) => {
      await engine.createPerson({ firstname: `Bulk${run}`, lastname: `${mode} ${i}`, companyname: 'Bench', leadsourcecode: 8 });
    });
    await sim.control.resetLimits();
    const before = await sim.control.lastSeq();
    writeMs[mode] = 0;
    const cycle = await runCycleChecked(engine, ['lead']);
    const writes = writeMs[mode];
    const log = await sim.control.requestsSince(before);
    const pending = await store.listOutbox('lead', { limit: 1 });
    if (pending.items.length > 0) throw new Error(`leads still waiting to be pushed after the ${mode} push`);
    await runCycleChecked(engine, ['lead']); // pulls back what this push wrote, before the next push
    await engine.stop();
    return { ms: cycle.ms, writeMs: writes, requests: log.length, executionMs: log.reduce((sum, entry) => sum + entry.executionMs, 0) };
  };
  const rates: Run[] = [];
  const writeRates: Run[] = [];
  const requests: Run[] = [];
  const execution: Run[] = [];
  for (let run = 1; run <= options.runs; run += 1) {
    const order: Array<keyof typeof adapters> = run % 2 === 1 ? ['bulk', 'batch'] : ['batch', 'bulk'];
    const done = {} as Record<keyof typeof adapters, CreatePush>;
    for (const mode of order) done[mode] = await push(mode, run);
    rates.push({ value: perSecond(creates, done.bulk.ms), reference: perSecond(creates, done.batch.ms) });
    writeRates.push({ value: perSecond(creates, done.bulk.writeMs), reference: perSecond(creates, done.batch.writeMs) });
    requests.push({ value: done.bulk.requests, reference: done.batch.requests });
    execution.push({ value: done.bulk.executionMs / 1000, reference: done.batch.executionMs / 1000 });
    log(
      `  run ${run}: CreateMultiple ${done.bulk.requests} requests, ${Math.round(done.bulk.executionMs / 1000)} s charged, ${Math.round(done.bulk.ms)} ms (writes ${Math.round(done.bulk.writeMs)} ms); ` +
        `$batch ${done.batch.requests} requests, ${Math.round(done.batch.executionMs / 1000)} s charged, ${Math.round(done.batch.ms)} ms (writes ${Math.round(done.batch.writeMs)} ms)`,
    );
  }
  const what = `${creates.toLocaleString('en-US')} new local persons (leads), PostgreSQL store`;
  const batch = { label: '$batch (bulk messages off), same run', unit: '' };
  return [
    makeFigure({
      key: 'push.bulk.rate', item: 9, label: `Push of ${what}, CreateMultiple: rate (whole cycle)`, unit: 'records/s',
      reference: { ...batch, unit: 'records/s' }, runs: rates, target: '≥ 3× $batch', met: ({ ratio }) => ratio >= 3,
    }),
    makeFigure({
      key: 'push.bulk.write-rate', item: 9, label: `Push of ${what}, CreateMultiple: rate of the adapter's write calls alone`, unit: 'records/s',
      reference: { ...batch, unit: 'records/s' }, runs: writeRates, note: "the time in createRecords (requests, answers, versions read back), without the engine's and the store's share of the cycle",
    }),
    makeFigure({
      key: 'push.bulk.requests', item: 9, label: `Push of ${what}, CreateMultiple: requests`, unit: 'requests',
      reference: { ...batch, unit: 'requests' }, runs: requests, note: 'the cycle also reads the lead delta; CreateMultiple adds one read of the versions per chunk',
    }),
    makeFigure({
      key: 'push.bulk.execution', item: 9, label: `Push of ${what}, CreateMultiple: execution time charged`, unit: 's',
      reference: { ...batch, unit: 's' }, runs: execution, target: '≤ $batch', met: ({ ratio }) => ratio <= 1,
      note: "the simulator's documented-default cost model: 10 ms a request (a $batch: a request per part), 25 ms a record written, 0.4 ms a row read",
    }),
  ];
}
