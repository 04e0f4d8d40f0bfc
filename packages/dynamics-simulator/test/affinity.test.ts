import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClock, createSimulator } from '../src/index.js';
import { startOrg } from './helpers.js';

/** The ARRAffinity value a response set, and checks that ARRAffinitySameSite carries the same. */
function affinityOf(response: Response): string {
  const cookies = response.headers.getSetCookie();
  const plain = cookies.find((cookie) => cookie.startsWith('ARRAffinity='));
  const sameSite = cookies.find((cookie) => cookie.startsWith('ARRAffinitySameSite='));
  expect(plain, `Set-Cookie of a ${response.status}: ${cookies.join(' | ')}`).toBeDefined();
  expect(sameSite).toBeDefined();
  const value = /^ARRAffinity=([0-9a-f]{64});Path=\/;HttpOnly$/.exec(plain!)?.[1];
  expect(value, plain).toBeDefined();
  expect(sameSite).toBe(`ARRAffinitySameSite=${value};Path=/;HttpOnly;SameSite=None`);
  return value!;
}

const pinned = (value: string) => ({ headers: { Cookie: `ARRAffinity=${value}; ARRAffinitySameSite=${value}` } });

describe('web servers and the ARRAffinity cookie (real HTTP)', () => {
  it('sets the affinity cookies on every answer (success, error, 401, 429), one server by default', async () => {
    const org = await startOrg({ limits: { maxRequests: 1 } });
    const answers = [
      await org.api('WhoAmI'),
      await org.api('nosuchset'),
      await org.api('WhoAmI', { token: null }),
      await org.api('WhoAmI'),
    ];
    expect(answers.map((response) => response.status)).toEqual([200, 404, 401, 429]);
    const values = answers.map(affinityOf);
    expect(new Set(values).size).toBe(1);
    expect(org.server.control.requestLog().map((entry) => entry.server)).toEqual([0, 0, 0, 0]);
  });

  it('spreads requests without the cookie over every server (round robin among equally loaded ones), each naming itself', async () => {
    const org = await startOrg({ limits: { webServers: 3 } });
    const values: string[] = [];
    for (let i = 0; i < 6; i++) values.push(affinityOf(await org.api('WhoAmI')));
    expect(new Set(values).size).toBe(3);
    expect(values.slice(3)).toEqual(values.slice(0, 3));
    expect(org.server.control.requestLog().map((entry) => entry.server)).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('keeps a client that sends the cookie back on that server', async () => {
    const org = await startOrg({ limits: { webServers: 4 } });
    const first = affinityOf(await org.api('WhoAmI'));
    for (let i = 0; i < 5; i++) expect(affinityOf(await org.api('WhoAmI', pinned(first)))).toBe(first);
    // ARRAffinitySameSite alone pins too (what a browser without the plain cookie sends).
    expect(affinityOf(await org.api('WhoAmI', { headers: { Cookie: `ARRAffinitySameSite=${first}` } }))).toBe(first);
    expect(new Set(org.server.control.requestLog().map((entry) => entry.server)).size).toBe(1);
    // A value naming no server is routed like no cookie, and told its server.
    const unknown = await org.api('WhoAmI', pinned('0'.repeat(64)));
    expect(unknown.status).toBe(200);
    expect(affinityOf(unknown)).not.toBe('0'.repeat(64));
  });

  it('throttles a pinned client at one server limit, a client without the cookie at the sum of the servers', async () => {
    const clock = createClock({ start: '2025-05-01T00:00:00Z', manual: true });
    const org = await startOrg({ clock, limits: { webServers: 3, maxRequests: 5 } });
    // Without the cookie: each server admits 6 (the count is enforced once exceeded), 18 in all.
    const spread: number[] = [];
    for (let i = 0; i < 21; i++) spread.push((await org.api('WhoAmI')).status);
    expect(spread.filter((status) => status === 200)).toHaveLength(18);
    expect(spread.slice(18)).toEqual([429, 429, 429]);
    clock.advance(300_000);
    // Sending the cookie back: one server's 6, then 429 with the request-count code.
    const first = await org.api('WhoAmI');
    const server = affinityOf(first);
    const statuses = [first.status];
    for (let i = 0; i < 8; i++) statuses.push((await org.api('WhoAmI', pinned(server))).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429, 429]);
    const limited = await org.api('WhoAmI', pinned(server));
    expect(await limited.json()).toEqual({ error: { code: '0x80072322', message: 'Number of requests exceeded the limit of 5 over time window of 300 seconds.' } });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('keeps each server windows apart: a throttled server leaves the others their whole budget and their own headers', async () => {
    const clock = createClock({ start: '2025-05-01T00:00:00Z', manual: true });
    const org = await startOrg({ clock, limits: { webServers: 2, maxRequests: 4, dopHint: 10 } });
    const a = affinityOf(await org.api('WhoAmI'));
    const b = affinityOf(await org.api('WhoAmI'));
    expect(a).not.toBe(b);
    for (let i = 0; i < 4; i++) expect((await org.api('WhoAmI', pinned(a))).status).toBe(200);
    const limitedA = await org.api('WhoAmI', pinned(a));
    expect(limitedA.status).toBe(429);
    expect(limitedA.headers.get('x-ms-ratelimit-burst-remaining-xrm-requests')).toBe('0');
    expect(limitedA.headers.get('x-ms-dop-hint')).toBe('1');
    // Server b has seen two requests with this one: its own window, its own remainder and a full hint.
    const onB = await org.api('WhoAmI', pinned(b));
    expect(onB.status).toBe(200);
    expect(onB.headers.get('x-ms-ratelimit-burst-remaining-xrm-requests')).toBe('2');
    expect(onB.headers.get('x-ms-dop-hint')).toBe('10');
  });

  it('counts concurrent requests per server and sends a request without the cookie to the least loaded one', async () => {
    // Each answer held 100 ms (10 simulated ms + 50 rows × 4 ms at scale 2); one request at a time per server.
    const org = await startOrg({ clock: { scale: 2 }, limits: { webServers: 3, holdAnswers: true, maxConcurrent: 1, cost: { baseMs: 10, perRowMs: 4, perWriteMs: 0 } } });
    const page = 'contacts?$select=fullname&$top=50';
    const spread = await Promise.all([org.api(page), org.api(page), org.api(page)]);
    expect(spread.map((response) => response.status)).toEqual([200, 200, 200]);
    expect(new Set(spread.map(affinityOf)).size).toBe(3);
    const server = affinityOf(spread[0]!);
    const together = await Promise.all([org.api(page, pinned(server)), org.api(page, pinned(server))]);
    expect(together.map((response) => response.status).sort()).toEqual([200, 429]);
    const refused = together.find((response) => response.status === 429)!;
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('0x80072326');
    // A server busy with a held answer is passed over: the next two go to the two idle ones.
    const busy = org.api(page, pinned(server));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const others = await Promise.all([org.api('WhoAmI'), org.api('WhoAmI')]);
    expect(others.map((response) => response.status)).toEqual([200, 200]);
    expect(others.map(affinityOf)).not.toContain(server);
    expect((await busy).status).toBe(200);
  });

  it('is configured over the control API, with a clear error for a bad count', async () => {
    const org = await startOrg();
    const set = await org.control('limits', { method: 'PUT', body: JSON.stringify({ webServers: 2 }) });
    expect(set.status).toBe(200);
    expect(((await set.json()) as { webServers: number }).webServers).toBe(2);
    const values = [affinityOf(await org.api('WhoAmI')), affinityOf(await org.api('WhoAmI'))];
    expect(new Set(values).size).toBe(2);
    const bad = await org.control('limits', { method: 'PUT', body: JSON.stringify({ webServers: 0 }) });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('webServers');
    expect(() => org.server.control.setLimits({ webServers: 1.5 })).toThrow('limits.webServers must be a whole number from 1 to 64, got 1.5');
  });
});

describe('web servers through the MSW handlers', () => {
  const sim = createSimulator({ contacts: 20, limits: { webServers: 2, maxRequests: 2 } });
  const server = setupServer(...sim.handlers);
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterAll(() => server.close());
  const api = (cookie?: string): Promise<Response> =>
    fetch(`${sim.webApiUrl()}WhoAmI`, { headers: { Authorization: `Bearer ${sim.tokens.sync}`, ...(cookie ? { Cookie: `ARRAffinity=${cookie}` } : {}) } });

  it('set the cookie in-process too, keep no cookie jar (requests without the cookie spread), and pin a client that sends it', async () => {
    const spread = [await api(), await api(), await api(), await api()];
    const values = spread.map((response) => /^ARRAffinity=([0-9a-f]{64})/.exec(response.headers.getSetCookie()[0] ?? '')?.[1]);
    expect(values.filter((value) => value === undefined)).toEqual([]);
    expect(values).toHaveLength(4);
    expect(new Set(values).size).toBe(2);
    // Two servers admit 3 each without the cookie; pinned, the one server's fourth request is refused.
    sim.control.resetLimits();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await api(values[0])).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});
