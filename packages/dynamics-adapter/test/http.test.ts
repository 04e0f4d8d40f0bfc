import { http as route, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isSyncError, SyncError } from '@crm-sync/core';
import type { AdapterEvent } from '../src/events.js';
import { createHttpClient, parseRetryAfter } from '../src/http.js';
import type { HttpDeps } from '../src/http.js';
import { parseOptions } from '../src/options.js';
import { createRedactor } from '../src/redact.js';

const ENV = 'https://org.crm.dynamics.com';
const API = `${ENV}/api/data/v9.2`;
const TOKEN = 'token-abcdefghijklmnop';

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

/** A fake clock: sleeping moves time, so budgets are exercised without waiting. */
function fakeTime() {
  let t = 0;
  const sleeps: number[] = [];
  const deps: HttpDeps = {
    now: () => t,
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw new SyncError('ABORTED', 'aborted');
      sleeps.push(ms);
      t += ms;
    },
    random: () => 0.5,
  };
  return { deps, sleeps };
}

function client(overrides: Record<string, unknown> = {}, deps?: HttpDeps, tokens?: { getToken(force: boolean): Promise<string> }) {
  const events: AdapterEvent[] = [];
  const options = parseOptions({ environmentUrl: ENV, auth: { kind: 'static-token', token: TOKEN }, ...overrides });
  const redactor = createRedactor();
  redactor.add(TOKEN);
  const http = createHttpClient({
    options,
    fetch: (url, init) => fetch(url, init),
    tokens: tokens ?? { getToken: async () => TOKEN },
    redactor,
    emit: (e) => events.push(e),
    ...(deps ? { deps } : {}),
  });
  return { http, events };
}

/** Like fakeTime, and exposes the clock to handlers. */
function fakeTimeWithClock() {
  let t = 0;
  const deps: HttpDeps = {
    now: () => t,
    // Time moves only after other work had its turn, as with a real timer.
    sleep: async (ms) => {
      await new Promise((r) => setImmediate(r));
      t += ms;
    },
    random: () => 0.5,
  };
  return { deps, now: () => t };
}

async function rejection(promise: Promise<unknown>): Promise<SyncError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isSyncError(error)) throw new Error(`expected a SyncError, got ${String(error)}`);
  return error;
}

describe('http: headers and errors', () => {
  it('sends the recommended OData headers and the bearer token', async () => {
    let seen: Headers | undefined;
    server.use(
      route.get(`${API}/WhoAmI`, ({ request }) => {
        seen = request.headers;
        return HttpResponse.json({ UserId: 'x' });
      }),
    );
    const { http } = client();
    const response = await http.send({ method: 'GET', url: 'WhoAmI' });
    expect(response.status).toBe(200);
    expect(seen?.get('accept')).toBe('application/json');
    expect(seen?.get('odata-version')).toBe('4.0');
    expect(seen?.get('odata-maxversion')).toBe('4.0');
    expect(seen?.get('authorization')).toBe(`Bearer ${TOKEN}`);
  });

  it('turns a 400 into CRM_REQUEST_REJECTED with the CRM code and message, even with an empty code', async () => {
    server.use(
      route.get(`${API}/contacts`, () =>
        HttpResponse.json({ error: { code: '', message: "Could not find a property named 'Name'." } }, { status: 400 }),
      ),
    );
    const error = await rejection(client().http.send({ method: 'GET', url: 'contacts?$select=Name' }));
    expect(error.code).toBe('CRM_REQUEST_REJECTED');
    expect(error.message).toMatch(/^\[dynamics-adapter\] GET \/api\/data\/v9.2\/contacts was rejected: 400/);
    expect(error.message).toContain("Could not find a property named 'Name'");
    expect(error.details).toMatchObject({ status: 400, crmCode: '' });
  });

  it('reads the legacy innererror message when message is empty', async () => {
    server.use(
      route.get(`${API}/contacts`, () =>
        HttpResponse.json({ error: { code: '0x0', message: '', innererror: { message: 'inner words', type: 'Microsoft.Crm.CrmHttpException' } } }, { status: 400 }),
      ),
    );
    const error = await rejection(client().http.send({ method: 'GET', url: 'contacts' }));
    expect(error.message).toContain('inner words');
  });

  it('classifies by status, never by message text', async () => {
    server.use(
      route.get(`${API}/contacts`, () =>
        HttpResponse.json({ error: { code: '0x80072322', message: 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.' } }, { status: 400 }),
      ),
    );
    const { deps, sleeps } = fakeTime();
    const error = await rejection(client({}, deps).http.send({ method: 'GET', url: 'contacts' }));
    expect(error.code).toBe('CRM_REQUEST_REJECTED');
    expect(sleeps).toEqual([]);
  });

  it('treats 403 as CRM_AUTH_FAILED (a missing privilege) without retrying', async () => {
    let calls = 0;
    server.use(
      route.get(`${API}/accounts`, () => {
        calls += 1;
        return HttpResponse.json({ error: { code: '0x80040220', message: 'Principal user is missing prvReadAccount privilege' } }, { status: 403 });
      }),
    );
    const error = await rejection(client().http.send({ method: 'GET', url: 'accounts' }));
    expect(error.code).toBe('CRM_AUTH_FAILED');
    expect(error.message).toContain('prvReadAccount');
    expect(calls).toBe(1);
  });

  it('keeps query strings (paging cookies, delta tokens) out of errors', async () => {
    server.use(route.get(`${API}/accounts`, () => new HttpResponse('nope', { status: 400 })));
    const error = await rejection(client().http.send({ method: 'GET', url: 'accounts?$deltatoken=SECRETISH' }));
    expect(error.message).not.toContain('SECRETISH');
    expect(JSON.stringify(error.details)).not.toContain('SECRETISH');
  });
});

describe('http: 401 and tokens', () => {
  it('refreshes the token once after a 401 and succeeds', async () => {
    const forced: boolean[] = [];
    const tokens = {
      getToken: async (force: boolean) => {
        forced.push(force);
        return force ? 'fresh-token-123456' : 'stale-token-123456';
      },
    };
    server.use(
      route.get(`${API}/WhoAmI`, ({ request }) =>
        request.headers.get('authorization') === 'Bearer fresh-token-123456' ? HttpResponse.json({ ok: true }) : new HttpResponse(null, { status: 401 }),
      ),
    );
    const response = await client({}, undefined, tokens).http.send({ method: 'GET', url: 'WhoAmI' });
    expect(response.status).toBe(200);
    expect(forced).toEqual([false, true]);
  });

  it('fails with CRM_AUTH_FAILED after a second 401, without the token in the error', async () => {
    let calls = 0;
    server.use(
      route.get(`${API}/WhoAmI`, () => {
        calls += 1;
        return new HttpResponse(`invalid token ${TOKEN}`, { status: 401 });
      }),
    );
    const error = await rejection(client().http.send({ method: 'GET', url: 'WhoAmI' }));
    expect(error.code).toBe('CRM_AUTH_FAILED');
    expect(calls).toBe(2);
    expect(JSON.stringify({ message: error.message, details: error.details, cause: String(error.cause) })).not.toContain(TOKEN);
  });
});

describe('http: retries and budget', () => {
  it('honours Retry-After on 429 and reports the throttling', async () => {
    let calls = 0;
    server.use(
      route.get(`${API}/contacts`, () => {
        calls += 1;
        return calls < 3
          ? HttpResponse.json({ error: { code: '0x80072322', message: 'limit' } }, { status: 429, headers: { 'Retry-After': '7' } })
          : HttpResponse.json({ value: [] });
      }),
    );
    const { deps, sleeps } = fakeTime();
    const { http, events } = client({}, deps);
    const response = await http.send({ method: 'GET', url: 'contacts' });
    expect(response.status).toBe(200);
    expect(sleeps).toEqual([7000, 7000]);
    expect(events.filter((e) => e.type === 'throttled')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'retry').map((e) => (e as { reason: string }).reason)).toEqual(['throttled', 'throttled']);
  });

  it('caps Retry-After at maxRetryAfterMs', async () => {
    let calls = 0;
    server.use(
      route.get(`${API}/contacts`, () => {
        calls += 1;
        return calls === 1 ? new HttpResponse(null, { status: 429, headers: { 'Retry-After': '3600' } }) : HttpResponse.json({ value: [] });
      }),
    );
    const { deps, sleeps } = fakeTime();
    await client({ retry: { maxRetryAfterMs: 5_000 } }, deps).http.send({ method: 'GET', url: 'contacts' });
    expect(sleeps).toEqual([5000]);
  });

  it('gives up with CRM_RATE_LIMITED naming the request, the attempts and the last status', async () => {
    server.use(route.get(`${API}/contacts`, () => new HttpResponse(null, { status: 429, headers: { 'Retry-After': '1' } })));
    const { deps } = fakeTime();
    const error = await rejection(client({ retry: { maxAttempts: 4 } }, deps).http.send({ method: 'GET', url: 'contacts?$select=a' }));
    expect(error.code).toBe('CRM_RATE_LIMITED');
    expect(error.message).toContain('GET /api/data/v9.2/contacts failed 4 time(s)');
    expect(error.message).toContain('429 Too Many Requests');
    expect(error.details).toMatchObject({ attempts: 4, status: 429 });
  });

  it('stops early when the next wait would overrun the time budget', async () => {
    server.use(route.get(`${API}/contacts`, () => new HttpResponse(null, { status: 429, headers: { 'Retry-After': '120' } })));
    const { deps, sleeps } = fakeTime();
    const error = await rejection(client({ retry: { budgetMs: 200_000 } }, deps).http.send({ method: 'GET', url: 'contacts' }));
    expect(error.code).toBe('CRM_RATE_LIMITED');
    expect(sleeps).toEqual([120_000]);
  });

  it('backs off with full jitter on 5xx, then fails with CRM_UNAVAILABLE', async () => {
    server.use(route.get(`${API}/contacts`, () => HttpResponse.json({ error: { code: '0x80040216', message: 'An unexpected error occurred.' } }, { status: 503 })));
    const { deps, sleeps } = fakeTime();
    const error = await rejection(client({ retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 300 } }, deps).http.send({ method: 'GET', url: 'contacts' }));
    expect(error.code).toBe('CRM_UNAVAILABLE');
    // random() = 0.5 of a cap doubling from 100 and capped at 300
    expect(sleeps).toEqual([50, 100, 150]);
    expect(error.message).toContain('503 Service Unavailable');
    expect(String((error.cause as Error).message)).toContain('An unexpected error occurred.');
  });

  it('retries dropped connections', async () => {
    let calls = 0;
    server.use(
      route.get(`${API}/contacts`, () => {
        calls += 1;
        return calls < 3 ? HttpResponse.error() : HttpResponse.json({ value: [] });
      }),
    );
    const { deps, sleeps } = fakeTime();
    const { http, events } = client({}, deps);
    expect((await http.send({ method: 'GET', url: 'contacts' })).status).toBe(200);
    expect(sleeps).toHaveLength(2);
    expect(events.filter((e) => e.type === 'retry' && e.reason === 'network')).toHaveLength(2);
  });

  it('pauses every request after a 429, not only the throttled one', async () => {
    let throttled = false;
    const order: string[] = [];
    server.use(
      route.get(`${API}/a`, () => {
        order.push('a');
        if (!throttled) {
          throttled = true;
          return new HttpResponse(null, { status: 429, headers: { 'Retry-After': '2' } });
        }
        return HttpResponse.json({});
      }),
      route.get(`${API}/b`, () => {
        order.push('b');
        return HttpResponse.json({});
      }),
    );
    const { deps, sleeps } = fakeTime();
    const { http } = client({}, deps);
    await http.send({ method: 'GET', url: 'a' });
    await http.send({ method: 'GET', url: 'b' });
    // b was sent after the pause: the only sleep is the Retry-After one, and time has moved past it.
    expect(sleeps).toEqual([2000]);
    expect(order).toEqual(['a', 'a', 'b']);
  });

  it('does not let a request waiting for a slot slip out during a 429 pause', async () => {
    const { deps, now } = fakeTimeWithClock();
    const arrivals: Array<[string, number]> = [];
    let throttled = false;
    server.use(
      route.get(`${API}/a`, async () => {
        arrivals.push(['a', now()]);
        await new Promise((r) => setTimeout(r, 10));
        if (!throttled) {
          throttled = true;
          return new HttpResponse(null, { status: 429, headers: { 'Retry-After': '3' } });
        }
        return HttpResponse.json({});
      }),
      route.get(`${API}/b`, () => {
        arrivals.push(['b', now()]);
        return HttpResponse.json({});
      }),
    );
    const { http } = client({ maxConcurrency: 1 }, deps);
    await Promise.all([http.send({ method: 'GET', url: 'a' }), http.send({ method: 'GET', url: 'b' })]);
    const b = arrivals.find(([name]) => name === 'b');
    expect(b?.[1]).toBeGreaterThanOrEqual(3000);
  });

  it('never has more requests in flight than maxConcurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    server.use(
      route.get(`${API}/slow`, async () => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight -= 1;
        return HttpResponse.json({});
      }),
    );
    const { http } = client({ maxConcurrency: 3 });
    await Promise.all(Array.from({ length: 12 }, () => http.send({ method: 'GET', url: 'slow' })));
    expect(peak).toBe(3);
  });

  it('stops a wait promptly when aborted', async () => {
    server.use(route.get(`${API}/contacts`, () => new HttpResponse(null, { status: 429, headers: { 'Retry-After': '60' } })));
    const { http } = client();
    const controller = new AbortController();
    const started = Date.now();
    const promise = http.send({ method: 'GET', url: 'contacts', signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    const error = await rejection(promise);
    expect(error.code).toBe('ABORTED');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('returns statuses the caller handles instead of throwing', async () => {
    server.use(route.patch(/\/contacts\(00000000-0000-0000-0000-000000000001\)$/, () => HttpResponse.json({ error: { code: '', message: 'version' } }, { status: 412 })));
    const response = await client().http.send({ method: 'PATCH', url: 'contacts(00000000-0000-0000-0000-000000000001)', body: '{}', pass: (s) => s === 412 });
    expect(response.status).toBe(412);
  });
});

describe('http: links', () => {
  it('sends the token only to the configured environment', async () => {
    const { http } = client();
    expect(http.resolve('https://evil.example.com/api/data/v9.2/contacts?$skiptoken=x')).toBe(`${API}/contacts?$skiptoken=x`);
    expect(http.resolve('https://org.crm.dynamics.com/other/path')).toBeNull();
    const error = await rejection(http.send({ method: 'GET', url: 'https://org.crm.dynamics.com/elsewhere' }));
    expect(error.code).toBe('CRM_REQUEST_REJECTED');
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('5', 0)).toBe(5000);
    expect(parseRetryAfter('0.25', 0)).toBe(250);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter(null, 0)).toBeNull();
    expect(parseRetryAfter('soon', 0)).toBeNull();
  });
});
