import { describe, expect, it } from 'vitest';
import { createClock } from '@crm-sync/dynamics-simulator';
import { adapterFor, contact, failure, pull, useMsw } from './helpers.js';

const msw = useMsw();
const FIELDS = ['firstname', 'lastname'];

describe('service protection limits', () => {
  it('rides out a 429 storm within its retry budget, pausing every request on Retry-After', async () => {
    // 300 simulated seconds pass in 1 real second; 12 requests per window. No pacing: the 429s are the point.
    const sim = msw.simulate({ contacts: 250, clock: { scale: 300 }, limits: { maxRequests: 12 } });
    // Ranges of 10 keys: the parallel load makes ~50 requests, spine and ranges alike meet the limit.
    const { crm, events } = adapterFor(sim, { pageSize: 10, maxConcurrency: 4, initialLoad: { rangeSize: 10 }, serviceProtection: { pacing: false } });
    const result = await pull(crm, contact, FIELDS, null);
    expect(new Set(result.upserts.map((r) => r.id)).size).toBe(250);
    const throttled = events.filter((e) => e.type === 'throttled');
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled.every((e) => e.type === 'throttled' && e.retryAfterMs >= 1000)).toBe(true);
    const limited = sim.control.requestLog().filter((e) => e.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    // Every 429 was answered by waiting, not by hammering: one retry per 429, none beyond the budget.
    expect(events.filter((e) => e.type === 'retry' && e.reason === 'throttled')).toHaveLength(limited.length);
  }, 30_000);

  it('paces a parallel load under the execution-time budget instead of running into 429s', async () => {
    // A 300 s window passes in 0.3 s; the budget holds about 7 of the ~24 requests the load needs.
    const sim = msw.simulate({ contacts: 600, clock: { scale: 1000 }, limits: { maxExecutionMs: 200 } });
    const paced = adapterFor(sim, { pageSize: 50, initialLoad: { parallel: true, rangeSize: 50 }, serviceProtection: { windowMs: 300 } });
    const result = await pull(paced.crm, contact, FIELDS, null);
    expect(new Set(result.upserts.map((r) => r.id)).size).toBe(600);
    const pacedLimited = sim.control.requestLog().filter((e) => e.status === 429).length;

    sim.control.clearRequestLog();
    sim.control.resetLimits();
    const bare = adapterFor(sim, { pageSize: 50, initialLoad: { parallel: true, rangeSize: 50 }, serviceProtection: { pacing: false } });
    expect(new Set((await pull(bare.crm, contact, FIELDS, null)).upserts.map((r) => r.id)).size).toBe(600);
    const bareLimited = sim.control.requestLog().filter((e) => e.status === 429).length;
    expect(bareLimited).toBeGreaterThan(0);
    expect(pacedLimited).toBeLessThan(bareLimited);
  }, 30_000);

  it('keeps concurrent writes under the concurrency limit', async () => {
    const sim = msw.simulate({ contacts: 60, limits: { maxConcurrent: 3 }, faults: { rules: [{ kind: 'slow', rate: 1, method: 'POST', delayMs: 30 }] } });
    const { crm } = adapterFor(sim, { batchSize: 5, maxConcurrency: 3 });
    const updates = Array.from({ length: 60 }, (_, i) => ({ id: sim.dataset.idOf('contact', i), ifVersion: null, fields: { jobtitle: `c${i}` } }));
    const results = await crm.updateRecords(contact, updates);
    expect(results.map((r) => [r.id, r.ok])).toEqual(updates.map((u) => [u.id, true]));
    expect(sim.control.requestLog().filter((e) => e.status === 429)).toEqual([]);
  });

  it('fails with CRM_RATE_LIMITED saying what failed when the wait would overrun the budget', async () => {
    // A clock that stands still: the window never slides, so Retry-After stays near 300 s.
    const sim = msw.simulate({ contacts: 50, clock: createClock({ manual: true }), limits: { maxRequests: 3 } });
    // No pacing: it would hold the request back first (the clock stands still, so nothing frees).
    const { crm } = adapterFor(sim, { pageSize: 10, retry: { budgetMs: 10_000 }, serviceProtection: { pacing: false } });
    const error = await failure(pull(crm, contact, FIELDS, null));
    expect(error.code).toBe('CRM_RATE_LIMITED');
    expect(error.message).toMatch(/^\[dynamics-adapter\] GET \/api\/data\/v9\.2\/\S+ failed 1 time\(s\) in .* last with 429 Too Many Requests.*; gave up: waiting \d+\.\d s more would pass the retry budget of 10\.0 s$/);
    expect(error.details).toMatchObject({ status: 429, crmCode: '0x80072322', attempts: 1 });
  });

  it('rides out server errors and dropped connections with backoff', async () => {
    const sim = msw.simulate({
      contacts: 120,
      faults: {
        rules: [
          { kind: '503', rate: 1, path: '$skiptoken', limit: 2 },
          { kind: 'drop', rate: 1, path: '/contacts', limit: 1 },
          { kind: '500', rate: 1, method: 'POST', limit: 1 },
        ],
      },
    });
    const { crm, events } = adapterFor(sim, { initialLoad: { parallel: false } });
    const result = await pull(crm, contact, FIELDS, null);
    expect(result.upserts).toHaveLength(120);
    const reasons = events.filter((e) => e.type === 'retry').map((e) => (e.type === 'retry' ? e.reason : ''));
    expect(reasons.filter((r) => r === 'server-error')).toHaveLength(2);
    expect(reasons.filter((r) => r === 'network')).toHaveLength(1);
    const results = await crm.updateRecords(contact, [0, 1].map((i) => ({ id: sim.dataset.idOf('contact', i), ifVersion: null, fields: { jobtitle: 'after 500' } })));
    expect(results.map((r) => [r.id, r.ok])).toEqual([0, 1].map((i) => [sim.dataset.idOf('contact', i), true]));
  });

  it('gives up with CRM_UNAVAILABLE after the attempts are spent', async () => {
    const sim = msw.simulate({ contacts: 10, faults: { rules: [{ kind: '503', rate: 1, path: '/contacts' }] } });
    const { crm } = adapterFor(sim, { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    const error = await failure(pull(crm, contact, FIELDS, null));
    expect(error.code).toBe('CRM_UNAVAILABLE');
    expect(error.message).toContain('failed 3 time(s)');
    expect(error.message).toContain('503 Service Unavailable');
  });
});
