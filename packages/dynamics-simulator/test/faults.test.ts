import { describe, expect, it } from 'vitest';
import { createSimulator } from '../src/index.js';
import type { FaultSettings } from '../src/index.js';
import { json, startOrg } from './helpers.js';

describe('fault injection', () => {
  it('injects 500 and 503 in the error shape, then recovers once the rule is used up', async () => {
    const org = await startOrg({ faults: { rules: [{ kind: '500', rate: 1, limit: 1 }, { kind: '503', rate: 1, limit: 1 }] } });
    const first = await org.api('WhoAmI');
    expect(first.status).toBe(500);
    expect(await first.json()).toEqual({ error: { code: '0x80040216', message: 'An unexpected error occurred.' } });
    const second = await org.api('WhoAmI');
    expect(second.status).toBe(503);
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe('0x80040216');
    expect((await org.api('WhoAmI')).status).toBe(200);
    expect(org.server.control.requestLog().map((entry) => entry.fault)).toEqual(['500', '503', null]);
  });

  it('injects 429 with Retry-After and the request-count code', async () => {
    const org = await startOrg({ faults: { rules: [{ kind: '429', rate: 1, limit: 1, retryAfterSeconds: 7 }] } });
    const response = await org.api('WhoAmI');
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('7');
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('0x80072322');
  });

  it('drops the connection without a response', async () => {
    const org = await startOrg({ faults: { rules: [{ kind: 'drop', rate: 1, limit: 1 }] } });
    await expect(org.api('WhoAmI')).rejects.toThrow(TypeError);
    expect((await org.api('WhoAmI')).status).toBe(200);
  });

  it('delays a slow response', async () => {
    const org = await startOrg({ faults: { rules: [{ kind: 'slow', rate: 1, limit: 1, delayMs: 1500 }] } });
    const pending = org.api('WhoAmI').then(() => 'response');
    const winner = await Promise.race([pending, new Promise((resolve) => setTimeout(() => resolve('timer'), 150))]);
    expect(winner).toBe('timer');
    expect(await pending).toBe('response');
  });

  it('truncates a JSON body (malformed-json)', async () => {
    const org = await startOrg({ faults: { rules: [{ kind: 'malformed-json', rate: 1, path: '/accounts' }] } });
    const response = await org.api('accounts?$select=name&$top=5');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; odata.metadata=minimal');
    const text = await response.text();
    expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError);
    // The path filter leaves other requests alone.
    expect((await org.api('WhoAmI')).status).toBe(200);
  });

  it('puts one value of the wrong type into an otherwise good page (wrong-type)', async () => {
    const org = await startOrg({ faults: { rules: [{ kind: 'wrong-type', rate: 1, limit: 1 }] } });
    const bad = await json(await org.api('accounts?$select=numberofemployees,revenue&$top=20'));
    const good = await json(await org.api('accounts?$select=numberofemployees,revenue&$top=20'));
    const differences = bad.value!.flatMap((row, i) =>
      Object.keys(row).filter((key) => typeof row[key] !== typeof good.value![i]![key]).map((key) => [i, key, row[key]]),
    );
    expect(differences).toHaveLength(1);
    expect(differences[0]![2]).toBe('not-a-number');
  });

  it('replays the same faults for the same seed and request sequence', async () => {
    const faults = (seed: number): FaultSettings => ({ seed, rules: [{ kind: '500', rate: 0.3 }, { kind: '503', rate: 0.2 }] });
    const run = async (seed: number): Promise<number[]> => {
      const sim = createSimulator({ contacts: 10, faults: faults(seed) });
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) {
        const response = await sim.fetchHandler(new Request(`${sim.webApiUrl()}WhoAmI`, { headers: { Authorization: `Bearer ${sim.tokens.sync}` } }));
        statuses.push(response.status);
      }
      return statuses;
    };
    const first = await run(7);
    expect(first).toEqual(await run(7));
    expect(first).toContain(500);
    expect(first).toContain(200);
    expect(await run(8)).not.toEqual(first);
  });
});
