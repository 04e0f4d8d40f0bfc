import { describe, expect, it } from 'vitest';
import { createClock } from '../src/index.js';
import { startOrg } from './helpers.js';

type ErrorBody = { error: { code: string; message: string } };

describe('service protection limits', () => {
  it('sends the rate-limit headers, formatted like the real service', async () => {
    const org = await startOrg();
    const first = await org.api('WhoAmI');
    expect(first.headers.get('x-ms-ratelimit-burst-remaining-xrm-requests')).toBe('5999');
    expect(first.headers.get('x-ms-ratelimit-time-remaining-xrm-requests')).toBe('1,200.00');
    const second = await org.api('WhoAmI');
    expect(second.headers.get('x-ms-ratelimit-burst-remaining-xrm-requests')).toBe('5998');
    expect(second.headers.get('x-ms-ratelimit-time-remaining-xrm-requests')).toBe('1,199.99');
  });

  it('sends no rate-limit headers while the limits are disabled, and sends them again once enabled', async () => {
    const org = await startOrg({ limits: { enabled: false } });
    const names = (response: Response): string[] => [...response.headers.keys()].filter((name) => name.startsWith('x-ms-ratelimit'));
    for (const path of ['WhoAmI', 'contacts?$select=fullname&$top=5', 'accounts(00000000-0000-4000-8000-000000000001)']) {
      const response = await org.api(path);
      expect(names(response)).toEqual([]);
    }
    org.server.control.setLimits({ enabled: true });
    const enabled = await org.api('WhoAmI');
    expect(names(enabled).sort()).toEqual(['x-ms-ratelimit-burst-remaining-xrm-requests', 'x-ms-ratelimit-time-remaining-xrm-requests']);
    org.server.control.setLimits({ enabled: false });
    expect(names(await org.api('WhoAmI'))).toEqual([]);
  });

  it('enforces the request count after it is exceeded, per user, with 0x80072322 and Retry-After; the window slides', async () => {
    const clock = createClock({ start: '2025-05-01T00:00:00Z', manual: true });
    const org = await startOrg({ clock, limits: { maxRequests: 5 } });
    for (let i = 0; i < 6; i++) {
      expect((await org.api('WhoAmI')).status).toBe(200);
      clock.advance(10_000);
    }
    const limited = await org.api('WhoAmI');
    expect(limited.status).toBe(429);
    expect(await limited.json()).toEqual({ error: { code: '0x80072322', message: 'Number of requests exceeded the limit of 5 over time window of 300 seconds.' } });
    // Rejected requests count too (hammering extends the wait): 7 in the window, so the two oldest
    // (t = 0 s and t = 10 s) must leave it; the second leaves at t = 310 s, 250 s from now (t = 60 s).
    expect(limited.headers.get('retry-after')).toBe('250');
    // Another user is not affected.
    expect((await org.api('WhoAmI', { token: org.server.simulator.tokens.admin })).status).toBe(200);
    clock.advance(300_000);
    expect((await org.api('WhoAmI')).status).toBe(200);
  });

  it('enforces combined execution time from the cost model with 0x80072321', async () => {
    const clock = createClock({ manual: true });
    const org = await startOrg({ clock, limits: { maxExecutionMs: 3000, cost: { baseMs: 1000, perRowMs: 0, perWriteMs: 0 } } });
    for (let i = 0; i < 4; i++) expect((await org.api('WhoAmI')).status).toBe(200);
    const limited = await org.api('WhoAmI');
    expect(limited.status).toBe(429);
    const body = (await limited.json()) as ErrorBody;
    expect(body.error.code).toBe('0x80072321');
    expect(body.error.message).toBe(
      'Combined execution time of incoming requests exceeded limit of 3,000  milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.',
    );
    expect(limited.headers.get('x-ms-ratelimit-time-remaining-xrm-requests')).toBe('0.00');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('charges execution time per row returned', async () => {
    const org = await startOrg({ limits: { cost: { baseMs: 0, perRowMs: 10, perWriteMs: 0 } } });
    await org.api('contacts?$select=fullname&$top=50');
    const after = await org.api('WhoAmI');
    expect(after.headers.get('x-ms-ratelimit-time-remaining-xrm-requests')).toBe('1,199.50');
    const log = org.server.control.requestLog();
    expect(log[0]).toMatchObject({ rows: 50, executionMs: 500 });
  });

  it('charges per column value returned besides the key: a page of keys costs less than a page of whole rows', async () => {
    const org = await startOrg({ limits: { cost: { baseMs: 10, perRowMs: 1, perColumnMs: 2, perWriteMs: 0 } } });
    // Keys only: 10 + 20 × 1.
    await org.api('contacts?$select=contactid&$top=20');
    // fullname and emailaddress1 (the key comes anyway): 10 + 20 × 1 + 20 × 2 × 2.
    await org.api('contacts?$select=fullname,emailaddress1&$top=20');
    // A column selected twice is charged once: 10 + 20 × 1 + 20 × 1 × 2.
    await org.api('contacts?$select=fullname,fullname,contactid&$top=20');
    const log = org.server.control.requestLog();
    expect(log.map((entry) => entry.executionMs)).toEqual([30, 110, 70]);
    // A single row and a delta page are charged the same way.
    const contact = (await (await org.api('contacts?$select=contactid&$top=1')).json()) as { value: Array<{ contactid: string }> };
    await org.api(`contacts(${contact.value[0]!.contactid})?$select=fullname,emailaddress1`);
    expect(org.server.control.requestLog().at(-1)).toMatchObject({ executionMs: 10 + 1 + 2 * 2 });
  });

  it('holds each answer for its execution time (divided by the clock scale) when asked, and a held request keeps its concurrency slot', async () => {
    // 10 ms + 50 rows × 4 ms = 210 simulated ms; at scale 2, 105 real ms.
    const org = await startOrg({ clock: { scale: 2 }, limits: { holdAnswers: true, maxConcurrent: 1, cost: { baseMs: 10, perRowMs: 4, perWriteMs: 0 } } });
    const started = performance.now();
    const [held, refused] = await Promise.all([org.api('contacts?$select=fullname&$top=50'), org.api('WhoAmI')]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
    expect(held.status).toBe(200);
    expect(refused.status).toBe(429);
  });

  it('rejects concurrent requests above the limit at once with 0x80072326', async () => {
    const org = await startOrg({ limits: { maxConcurrent: 2 }, faults: { rules: [{ kind: 'slow', rate: 1, delayMs: 400 }] } });
    const responses = await Promise.all([org.api('WhoAmI'), org.api('WhoAmI'), org.api('WhoAmI')]);
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([200, 200, 429]);
    const limited = responses.find((response) => response.status === 429)!;
    expect(await limited.json()).toEqual({ error: { code: '0x80072326', message: 'Number of concurrent requests exceeded the limit of 2.' } });
  });

  it('gives Retry-After in real seconds when the clock is scaled (a 300 s window passes in 3 s)', async () => {
    const org = await startOrg({ clock: { scale: 100 }, limits: { maxRequests: 1 } });
    await org.api('WhoAmI');
    await org.api('WhoAmI');
    const limited = await org.api('WhoAmI');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(3);
  });

  it('counts a $batch as one request', async () => {
    const clock = createClock({ manual: true });
    const org = await startOrg({ clock, limits: { maxRequests: 3 } });
    const boundary = 'batch_count';
    const part = (path: string) => `--${boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET ${org.server.webApiUrl}${path} HTTP/1.1\r\nAccept: application/json\r\n\r\n`;
    const body = `${part('WhoAmI')}${part('WhoAmI')}${part('WhoAmI')}${part('WhoAmI')}--${boundary}--\r\n`;
    const response = await org.api('$batch', { method: 'POST', body, headers: { 'Content-Type': `multipart/mixed; boundary=${boundary}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-ms-ratelimit-burst-remaining-xrm-requests')).toBe('2');
  });
});

describe('degree of parallelism hint', () => {
  const hint = (response: Response): number | null => {
    const raw = response.headers.get('x-ms-dop-hint');
    return raw === null ? null : Number(raw);
  };

  it('answers every request with x-ms-dop-hint: success, error, 401, with the limits on or off', async () => {
    const org = await startOrg({ limits: { dopHint: 12 } });
    expect(hint(await org.api('WhoAmI'))).toBe(12);
    expect(hint(await org.api('nosuchset'))).toBe(12);
    expect(hint(await org.api('WhoAmI', { token: null }))).toBe(12);
    org.server.control.setLimits({ enabled: false });
    expect(hint(await org.api('contacts?$select=fullname&$top=1'))).toBe(12);
    // Configurable per org at run time, over the control API too.
    expect((await org.control('limits', { method: 'PUT', body: JSON.stringify({ dopHint: 30 }) })).status).toBe(200);
    expect(hint(await org.api('WhoAmI'))).toBe(30);
    expect((await org.control('limits', { method: 'PUT', body: JSON.stringify({ dopHint: 0 }) })).status).toBe(400);
  });

  it('lowers the hint as the caller fills its window (a 429 too), and raises it again as the window slides', async () => {
    const clock = createClock({ start: '2025-05-01T00:00:00Z', manual: true });
    const org = await startOrg({ clock, limits: { maxRequests: 10, dopHint: 20 } });
    const hints: number[] = [];
    for (let i = 0; i < 12; i++) hints.push(hint(await org.api('WhoAmI'))!);
    // Up to half the window: the full hint; then falling with the load; 1 once the window is full.
    expect(hints.slice(0, 5)).toEqual([20, 20, 20, 20, 20]);
    expect(hints[6]).toBeLessThan(20);
    expect(hints[6]).toBeGreaterThan(1);
    for (let i = 1; i < hints.length; i++) expect(hints[i]).toBeLessThanOrEqual(hints[i - 1]!);
    const limited = await org.api('WhoAmI');
    expect(limited.status).toBe(429);
    expect(hint(limited)).toBe(1);
    // Another user's window is empty: the full hint.
    expect(hint(await org.api('WhoAmI', { token: org.server.simulator.tokens.admin }))).toBe(20);
    clock.advance(300_000);
    expect(hint(await org.api('WhoAmI'))).toBe(20);
  });
});
