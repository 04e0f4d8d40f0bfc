/**
 * Item 9: pushing local person edits. Edits go in through the engine (editLocal), then one cycle
 * pushes them; its requests come from the simulator's request log. The reference writes as many
 * other contacts with one PATCH each (same If-Match and Prefer as the adapter, as many in flight
 * as the adapter's default concurrency).
 */
import type { SyncStore } from '@crm-sync/core';
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
