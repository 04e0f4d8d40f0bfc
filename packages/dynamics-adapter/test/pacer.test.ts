import { describe, expect, it } from 'vitest';
import { createPacer, readRemaining } from '../src/pacer.js';

/**
 * A service's sliding window as Dataverse documents it: a request is refused once the execution
 * time charged in the window is over budget; the response's headers show the remainder before
 * the request's own charge, which lands when it ends.
 */
function fakeService(options: { windowMs: number; budgetMs: number; costMs: number }) {
  const charges: Array<{ at: number; ms: number }> = [];
  const used = (at: number) => charges.filter((c) => c.at > at - options.windowMs).reduce((sum, c) => sum + c.ms, 0);
  let refused = 0;
  return {
    /** One request from `start` lasting `durationMs`; returns its response headers. */
    request(start: number, durationMs: number): Headers {
      const ok = used(start) <= options.budgetMs;
      if (!ok) refused += 1;
      const end = start + durationMs;
      const remaining = Math.max(0, options.budgetMs - used(end)) / 1000;
      if (ok) charges.push({ at: end, ms: options.costMs });
      return new Headers({ 'x-ms-ratelimit-time-remaining-xrm-requests': remaining.toLocaleString('en-US', { minimumFractionDigits: 2 }) });
    },
    refused: () => refused,
  };
}

/** Time that moves only when someone sleeps. */
function fakeClock() {
  const clock = { t: 0, now: () => clock.t, sleep: async (ms: number) => void (clock.t += ms) };
  return clock;
}

describe('pacer', () => {
  it('reads the rate-limit headers (seconds with a thousands separator, request counts)', () => {
    const headers = new Headers({ 'x-ms-ratelimit-time-remaining-xrm-requests': '1,200.00', 'x-ms-ratelimit-burst-remaining-xrm-requests': '5999' });
    expect(readRemaining(headers, 'x-ms-ratelimit-time-remaining-xrm-requests', 1000)).toBe(1_200_000);
    expect(readRemaining(headers, 'x-ms-ratelimit-burst-remaining-xrm-requests', 1)).toBe(5999);
    expect(readRemaining(new Headers({ 'x-ms-ratelimit-burst-remaining-xrm-requests': 'lots' }), 'x-ms-ratelimit-burst-remaining-xrm-requests', 1)).toBeNull();
    expect(readRemaining(new Headers(), 'x-ms-ratelimit-burst-remaining-xrm-requests', 1)).toBeNull();
  });

  it('keeps one reader inside the execution budget at close to the rate the window allows', async () => {
    const clock = fakeClock();
    const service = fakeService({ windowMs: 3_000, budgetMs: 12_000, costMs: 2_010 });
    const pacer = createPacer({ enabled: true, windowMs: 3_000, now: clock.now, sleep: clock.sleep });
    for (let i = 0; i < 60; i += 1) {
      await pacer.acquire();
      const headers = service.request(clock.t, 100);
      clock.t += 100;
      pacer.release(headers);
    }
    expect(service.refused()).toBe(0);
    // 60 pages of 2,010 ms at 4 ms per ms need 30 s; the first window's budget comes for free.
    const ideal = ((60 * 2_010 - 12_000) / 12_000) * 3_000;
    expect(clock.t).toBeGreaterThanOrEqual(ideal);
    expect(clock.t).toBeLessThan(ideal * 1.25);
    expect(pacer.limited()).toBe(true);
  });

  it('never waits without headers, nor when disabled', async () => {
    const clock = fakeClock();
    const pacer = createPacer({ enabled: true, windowMs: 3_000, now: clock.now, sleep: clock.sleep });
    for (let i = 0; i < 20; i += 1) {
      await pacer.acquire();
      pacer.release(null);
    }
    const off = createPacer({ enabled: false, windowMs: 3_000, now: clock.now, sleep: clock.sleep });
    const empty = new Headers({ 'x-ms-ratelimit-time-remaining-xrm-requests': '0.00' });
    for (let i = 0; i < 20; i += 1) {
      await off.acquire();
      off.release(empty);
    }
    expect(clock.t).toBe(0);
    expect(pacer.limited()).toBe(false);
    expect(off.limited()).toBe(false);
  });

  it('holds a request 30 s at most, then lets the service decide (a window set too long cannot stall)', async () => {
    const clock = fakeClock();
    // The service's window is 1 s; the pacer believes the documented 300 s.
    const service = fakeService({ windowMs: 1_000, budgetMs: 6_000, costMs: 2_000 });
    const pacer = createPacer({ enabled: true, windowMs: 300_000, now: clock.now, sleep: clock.sleep });
    const waits: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      const before = clock.t;
      await pacer.acquire();
      waits.push(clock.t - before);
      const headers = service.request(clock.t, 50);
      clock.t += 50;
      pacer.release(headers);
    }
    expect(Math.max(...waits)).toBe(30_000);
    expect(service.refused()).toBe(0);
  });

  it('lets a request through when nothing in flight can tell more, and the service decides', async () => {
    const clock = fakeClock();
    const pacer = createPacer({ enabled: true, windowMs: 3_000, now: clock.now, sleep: clock.sleep });
    const exhausted = new Headers({ 'x-ms-ratelimit-time-remaining-xrm-requests': '0.00' });
    await pacer.acquire();
    pacer.release(exhausted);
    await pacer.acquire();
    pacer.release(exhausted);
    expect(clock.t).toBe(0);
  });

  it('holds room for the expensive requests in flight when cheap ones pull the average down (a load: key-only spine pages beside whole-row range pages)', async () => {
    // Dataverse's window of 30 s and 120 s of execution; a range page is charged 2,010 ms, a spine
    // page 210 ms, each held for its execution time; six in flight, every third a spine page.
    const windowMs = 30_000;
    const budgetMs = 120_000;
    const charges: Array<{ at: number; ms: number }> = [];
    const used = (at: number) => charges.filter((c) => c.at > at - windowMs && c.at <= at).reduce((sum, c) => sum + c.ms, 0);
    let refused = 0;
    const inflight: Array<{ end: number; cost: number }> = [];
    const clock = { t: 0 };
    const pacer = createPacer({
      enabled: true,
      windowMs,
      now: () => clock.t,
      // Sleeping lets the requests in flight end (and report) on time, as responses wake a real waiter.
      sleep: async (ms: number) => {
        const until = clock.t + ms;
        for (;;) {
          inflight.sort((a, b) => a.end - b.end);
          if (!inflight[0] || inflight[0].end > until) break;
          finish(inflight.shift()!);
        }
        clock.t = until;
      },
    });
    const finish = (request: { end: number; cost: number }) => {
      clock.t = Math.max(clock.t, request.end);
      // The headers are written before the request's own charge lands (as Dataverse does).
      const remaining = Math.max(0, budgetMs - used(request.end)) / 1000;
      charges.push({ at: request.end, ms: request.cost });
      pacer.release(new Headers({ 'x-ms-ratelimit-time-remaining-xrm-requests': remaining.toLocaleString('en-US', { minimumFractionDigits: 2 }) }));
    };
    for (let i = 0; i < 300; i += 1) {
      while (inflight.length >= 6) {
        inflight.sort((a, b) => a.end - b.end);
        finish(inflight.shift()!);
      }
      await pacer.acquire();
      const cost = i % 3 === 2 ? 210 : 2_010;
      if (used(clock.t) > budgetMs) refused += 1;
      else inflight.push({ end: clock.t + cost, cost });
    }
    expect(refused).toBe(0);
    // 200 range pages and 100 spine pages: 423 s of execution at 4 ms per ms after the first window's budget.
    const ideal = ((200 * 2_010 + 100 * 210 - budgetMs) / budgetMs) * windowMs;
    // Six in flight would use 6 ms per ms; held to 4, with the waits this harness's coarse clock adds
    // (a sleeper is not woken early by a response): about 1.4x the ideal, before and after the peak.
    expect(clock.t).toBeGreaterThanOrEqual(ideal);
    expect(clock.t).toBeLessThan(ideal * 1.5);
  });
});
