import { afterEach, describe, expect, it } from 'vitest';
import { startSimulatorServer } from '@crm-sync/dynamics-simulator';
import type { ServerOptions, SimulatorServer } from '@crm-sync/dynamics-simulator';
import { answeringServer, createHttpClient } from '../src/http.js';
import { createDynamicsAdapter } from '../src/index.js';
import type { DynamicsAdapterOptions } from '../src/index.js';
import { createPacer } from '../src/pacer.js';
import { createRedactor } from '../src/redact.js';
import { contact, countingFetch, pull } from './helpers.js';

const running: SimulatorServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(options: ServerOptions): Promise<SimulatorServer> {
  const server = await startSimulatorServer({ contacts: 600, port: 0, ...options });
  running.push(server);
  return server;
}

/** The adapter over real fetch, recording the headers of every request it sends and peak requests in flight. */
function adapter(server: SimulatorServer, options: Partial<DynamicsAdapterOptions> = {}) {
  const sent: Headers[] = [];
  const { fetch: counted, flight } = countingFetch((headers) => sent.push(headers));
  const crm = createDynamicsAdapter({
    fetch: counted,
    environmentUrl: server.url,
    auth: { kind: 'static-token', token: server.simulator.tokens.sync },
    pageSize: 100,
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    ...options,
  });
  return { crm, sent, flight };
}

describe('server affinity (over HTTP against a simulator with several web servers)', () => {
  it('never sends the affinity cookie back: its requests spread over every server', async () => {
    const server = await start({ limits: { webServers: 3 } });
    const { crm, sent } = adapter(server);
    const result = await pull(crm, contact, ['firstname', 'lastname'], null);
    expect(new Set(result.upserts.map((r) => r.id)).size).toBe(600);
    // Every answer set the cookie; none of the requests carried one.
    const log = server.control.requestLog();
    expect(log.length).toBeGreaterThanOrEqual(7);
    expect(sent).toHaveLength(log.length);
    expect(sent.filter((headers) => headers.has('cookie'))).toEqual([]);
    expect(new Set(log.map((entry) => entry.server))).toEqual(new Set([0, 1, 2]));
  });

  it('drops a Cookie header a caller passes, so nothing can pin it to one server', async () => {
    const server = await start({ limits: { webServers: 2 } });
    const sent: Headers[] = [];
    const http = createHttpClient({
      options: { environmentUrl: server.url, apiPath: '/api/data/v9.2', maxConcurrency: 4, retry: { maxAttempts: 1, budgetMs: 1000, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1000, requestTimeoutMs: 5000 } },
      fetch: (input, init) => {
        sent.push(new Headers(init?.headers));
        return fetch(input, init);
      },
      tokens: { getToken: async () => server.simulator.tokens.sync },
      redactor: createRedactor(),
      emit: () => {},
    });
    const first = await http.send({ method: 'GET', url: 'WhoAmI' });
    const value = answeringServer(first.headers);
    expect(value).toMatch(/^[0-9a-f]{64}$/);
    for (let i = 0; i < 4; i++) await http.send({ method: 'GET', url: 'WhoAmI', headers: { Cookie: `ARRAffinity=${value}` } });
    expect(sent.filter((headers) => headers.has('cookie'))).toEqual([]);
    expect(server.control.requestLog().map((entry) => entry.server)).toEqual([0, 1, 0, 1, 0]);
    // Both servers were heard from.
    expect(http.servers()).toBe(2);
  });

  it('reads ranges in parallel for every server heard from (7 each), within the hint', async () => {
    // Range reads are slow, the spine of keys is not: the ranges pile up behind the spine.
    const slowRanges = { kind: 'slow' as const, rate: 1, method: 'GET', path: '$filter=contactid', delayMs: 250 };
    const peaks: number[] = [];
    for (const webServers of [1, 3]) {
      const server = await start({ contacts: 3000, limits: { webServers, dopHint: 20 }, faults: { rules: [slowRanges] } });
      const { crm, flight } = adapter(server, { initialLoad: { parallel: true, rangeSize: 100 } });
      await pull(crm, contact, ['firstname'], null);
      flight.peak = 0;
      const result = await pull(crm, contact, ['firstname'], null);
      expect(new Set(result.upserts.map((r) => r.id)).size).toBe(3000);
      expect(server.control.requestLog().filter((e) => e.status === 429)).toEqual([]);
      peaks.push(flight.peak);
    }
    // One server: 7 ranges and the spine; three: 21 ranges and the spine, capped by the hint of 20.
    expect(peaks[0]).toBeLessThanOrEqual(8);
    expect(peaks[1]).toBeGreaterThan(14);
    expect(peaks[1]).toBeLessThanOrEqual(20);
  });
});

/** Time that moves only when someone sleeps. */
function fakeClock() {
  const clock = { t: 0, now: () => clock.t, sleep: async (ms: number) => void (clock.t += ms) };
  return clock;
}

/**
 * Web servers as Dataverse documents them, each with its own sliding window of execution time; a
 * request without affinity goes to the next server in turn. The headers show the remainder of the
 * server that answered, and its affinity cookie.
 */
function fakeServers(options: { servers: number; windowMs: number; budgetMs: number; costMs: number }) {
  const charges = Array.from({ length: options.servers }, () => [] as Array<{ at: number; ms: number }>);
  const used = (server: number, at: number) => charges[server]!.filter((c) => c.at > at - options.windowMs).reduce((sum, c) => sum + c.ms, 0);
  let next = 0;
  let refused = 0;
  let served = 0;
  return {
    request(start: number, durationMs: number): { headers: Headers; server: string } {
      const server = next;
      next = (next + 1) % options.servers;
      const ok = used(server, start) <= options.budgetMs;
      if (ok) served += 1;
      else refused += 1;
      const end = start + durationMs;
      const remaining = Math.max(0, options.budgetMs - used(server, end)) / 1000;
      if (ok) charges[server]!.push({ at: end, ms: options.costMs });
      const name = `server-${server}`;
      return {
        headers: new Headers([
          ['x-ms-ratelimit-time-remaining-xrm-requests', remaining.toLocaleString('en-US', { minimumFractionDigits: 2 })],
          ['set-cookie', `ARRAffinity=${name};Path=/;HttpOnly`],
        ]),
        server: name,
      };
    },
    refused: () => refused,
    served: () => served,
  };
}

describe('pacer with several web servers', () => {
  it('keeps one model per server: two servers take twice the pages of one, without a 429', async () => {
    const elapsed: number[] = [];
    for (const servers of [1, 2]) {
      const clock = fakeClock();
      const service = fakeServers({ servers, windowMs: 3_000, budgetMs: 12_000, costMs: 2_010 });
      const pacer = createPacer({ enabled: true, windowMs: 3_000, now: clock.now, sleep: clock.sleep });
      for (let i = 0; i < 120; i += 1) {
        await pacer.acquire();
        const { headers } = service.request(clock.t, 100);
        clock.t += 100;
        pacer.release(headers, answeringServer(headers));
      }
      expect(service.refused()).toBe(0);
      expect(service.served()).toBe(120);
      elapsed.push(clock.t);
    }
    // 120 pages of 2,010 ms at 4 ms per ms per server: 57 s on one server (the first window free), 27 s on two;
    // in a window this short the room kept for the last answers costs a quarter more (64 s and 34 s).
    const ideal = (servers: number) => ((120 * 2_010 - 12_000 * servers) / (12_000 * servers)) * 3_000;
    expect(elapsed[0]).toBeGreaterThanOrEqual(ideal(1));
    expect(elapsed[1]).toBeGreaterThanOrEqual(ideal(2));
    expect(elapsed[1]).toBeLessThan(ideal(2) * 1.3);
    expect(elapsed[1]! / elapsed[0]!).toBeLessThan(0.6);
  });

  it('reads the answering server from the ARRAffinity cookie, and none from other cookies', () => {
    const headers = new Headers([
      ['set-cookie', 'ReqClientId=abc;Path=/'],
      ['set-cookie', 'ARRAffinity=4f2c;Path=/;HttpOnly;Secure'],
      ['set-cookie', 'ARRAffinitySameSite=4f2c;Path=/;HttpOnly;SameSite=None;Secure'],
    ]);
    expect(answeringServer(headers)).toBe('4f2c');
    expect(answeringServer(new Headers([['set-cookie', 'ARRAffinitySameSite=4f2c;Path=/']]))).toBe('');
    expect(answeringServer(new Headers())).toBe('');
  });
});
