import { afterEach, describe, expect, it } from 'vitest';
import { startSimulatorServer } from '@crm-sync/dynamics-simulator';
import type { ServerOptions, SimulatorServer } from '@crm-sync/dynamics-simulator';
import { createDynamicsAdapter } from '../src/index.js';
import type { AdapterEvent, DynamicsAdapterOptions } from '../src/index.js';
import { contact, countingFetch, pull } from './helpers.js';

const running: SimulatorServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

/** A standalone simulator whose writes each hold their concurrency slot a while, so parallel ones overlap. */
async function start(options: ServerOptions = {}): Promise<SimulatorServer> {
  const server = await startSimulatorServer({ contacts: 120, port: 0, faults: { rules: [{ kind: 'slow', rate: 1, method: 'POST', delayMs: 40 }] }, ...options });
  running.push(server);
  return server;
}

/** The adapter over real fetch, counting its requests in flight. */
function adapter(server: SimulatorServer, options: Partial<DynamicsAdapterOptions> = {}) {
  const events: AdapterEvent[] = [];
  const { fetch: counted, flight } = countingFetch();
  const crm = createDynamicsAdapter({
    fetch: counted,
    environmentUrl: server.url,
    auth: { kind: 'static-token', token: server.simulator.tokens.sync },
    batchSize: 5,
    bulk: { enabled: false }, // parallel $batch requests are what these tests count
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    onEvent: (event) => events.push(event),
    ...options,
  });
  return { crm, events, flight };
}

const updates = (server: SimulatorServer, count: number, tag: string) =>
  Array.from({ length: count }, (_, i) => ({ id: server.simulator.dataset.idOf('contact', i), ifVersion: null, fields: { jobtitle: `${tag}${i}` } }));

/** One request, so the adapter reads the org's latest hint (whoAmI is asked once and kept). */
const touch = async (server: SimulatorServer, crm: ReturnType<typeof adapter>['crm']) => {
  const [result] = await crm.updateRecords(contact, updates(server, 1, 'touch'));
  expect(result?.ok).toBe(true);
};

const concurrencyRejections = (server: SimulatorServer) => server.control.requestLog().filter((e) => e.status === 429).length;
const lastConcurrency = (events: AdapterEvent[]) => events.findLast((e) => e.type === 'request' && e.concurrency !== undefined);

describe('degree of parallelism (x-ms-dop-hint), over HTTP', () => {
  it('sends no more in parallel than the hint says, where the default would run into the concurrency limit', async () => {
    // The org takes 3 concurrent requests and says so; 12 batches of 5 go out at once.
    const server = await start({ limits: { maxConcurrent: 3, dopHint: 3 } });
    const { crm, events } = adapter(server);
    await crm.whoAmI();
    const results = await crm.updateRecords(contact, updates(server, 60, 'a'));
    expect(results.map((r) => r.ok)).toEqual(Array(60).fill(true));
    expect(concurrencyRejections(server)).toBe(0);
    expect(lastConcurrency(events)).toMatchObject({ dopHint: 3, concurrency: 3 });

    // The same org hinting 8 (more than it takes): the adapter believes it and meets the limit.
    server.control.setLimits({ dopHint: 8 });
    server.control.clearRequestLog();
    await touch(server, crm);
    expect((await crm.updateRecords(contact, updates(server, 60, 'b'))).map((r) => r.ok)).toEqual(Array(60).fill(true));
    expect(concurrencyRejections(server)).toBeGreaterThan(0);
  });

  it('re-reads the hint as it changes, and a configured maxConcurrency stays the upper bound', async () => {
    const server = await start({ limits: { dopHint: 20 } });
    const bounded = adapter(server, { maxConcurrency: 4 });
    await touch(server, bounded.crm);
    expect(lastConcurrency(bounded.events)).toMatchObject({ dopHint: 20, concurrency: 4 });
    server.control.setLimits({ dopHint: 2, maxConcurrent: 2 });
    await touch(server, bounded.crm);
    expect(lastConcurrency(bounded.events)).toMatchObject({ dopHint: 2, concurrency: 2 });
    expect((await bounded.crm.updateRecords(contact, updates(server, 40, 'c'))).map((r) => r.ok)).toEqual(Array(40).fill(true));
    expect(concurrencyRejections(server)).toBe(0);

    // Unbounded, the hint alone decides, up and down.
    const free = adapter(server);
    server.control.setLimits({ dopHint: 30, maxConcurrent: 52 });
    await touch(server, free.crm);
    expect(lastConcurrency(free.events)).toMatchObject({ dopHint: 30, concurrency: 30 });
    server.control.setLimits({ dopHint: 1000 });
    await touch(server, free.crm);
    expect(lastConcurrency(free.events)).toMatchObject({ dopHint: 1000, concurrency: 50 });
  });

  it('takes its share of the hint when several runners share the org (sharedBy, shareParallelism), maxConcurrency still the bound', async () => {
    const server = await start({ limits: { dopHint: 12 } });
    const shared = adapter(server, { sharedBy: 3 });
    await touch(server, shared.crm);
    expect(lastConcurrency(shared.events)).toMatchObject({ dopHint: 12, concurrency: 4 });
    shared.flight.peak = 0;
    expect((await shared.crm.updateRecords(contact, updates(server, 60, 'd'))).map((r) => r.ok)).toEqual(Array(60).fill(true));
    expect(shared.flight.peak).toBe(4);
    // The engine counts two runners now: half of the hint, at once.
    shared.crm.shareParallelism?.(2);
    await touch(server, shared.crm);
    expect(lastConcurrency(shared.events)).toMatchObject({ dopHint: 12, concurrency: 6 });
    // More runners than the hint: one request at a time each, never none.
    shared.crm.shareParallelism?.(40);
    await touch(server, shared.crm);
    expect(lastConcurrency(shared.events)).toMatchObject({ dopHint: 12, concurrency: 1 });
    // A configured maximum below the share stays the bound.
    const bounded = adapter(server, { maxConcurrency: 2 });
    bounded.crm.shareParallelism?.(2);
    await touch(server, bounded.crm);
    expect(lastConcurrency(bounded.events)).toMatchObject({ dopHint: 12, concurrency: 2 });
  });

  it('reports the operations of a $batch, which the daily entitlement limits count one by one', async () => {
    const server = await start();
    const { crm, events } = adapter(server);
    expect((await crm.updateRecords(contact, updates(server, 12, 'e'))).map((r) => r.ok)).toEqual(Array(12).fill(true));
    const batches = events.filter((e) => e.type === 'request' && e.path.endsWith('$batch'));
    // 12 writes in batches of 5: 5, 5 and 2.
    expect(batches.map((e) => (e.type === 'request' ? e.operations : null)).sort()).toEqual([2, 5, 5]);
    expect(events.filter((e) => e.type === 'request' && !e.path.endsWith('$batch') && e.operations !== undefined)).toHaveLength(0);
  });

  it('sizes the parallel initial load from the hint: never more ranges in flight than it allows', async () => {
    // Range reads are slow, the spine of keys is not: the ranges pile up behind the spine.
    const slowRanges = { kind: 'slow' as const, rate: 1, method: 'GET', path: '$filter=contactid', delayMs: 30 };
    const server = await start({ contacts: 1200, limits: { dopHint: 3, maxConcurrent: 3 }, faults: { rules: [slowRanges] } });
    const { crm, flight } = adapter(server, { pageSize: 100, initialLoad: { parallel: true, rangeSize: 100 } });
    await crm.whoAmI();
    flight.peak = 0;
    const result = await pull(crm, contact, ['firstname'], null);
    expect(new Set(result.upserts.map((r) => r.id)).size).toBe(1200);
    // In parallel, but never past the hint (with the default 8 before it, five went at once).
    expect(flight.peak).toBeGreaterThan(1);
    expect(flight.peak).toBeLessThanOrEqual(3);
    expect(concurrencyRejections(server)).toBe(0);
  });
});
