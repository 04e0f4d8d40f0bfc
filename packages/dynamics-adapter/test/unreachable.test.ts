import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isOrgWideError, isSyncError } from '@crm-sync/core';
import type { SyncError } from '@crm-sync/core';
import type { AdapterEvent } from '../src/events.js';
import { createHttpClient } from '../src/http.js';
import type { HttpDeps } from '../src/http.js';
import { createDynamicsAdapter } from '../src/index.js';
import type { FetchLike } from '../src/options.js';
import { parseOptions } from '../src/options.js';
import { createRedactor } from '../src/redact.js';

/**
 * A CRM that cannot be reached, over real sockets (no MSW here): what retrying cannot fix fails at
 * once with the cause in the message; what may pass is retried, and the message tells the truth
 * about the attempts made and the time spent.
 */

const TOKEN = 'token-abcdefghijklmnop';
const SECRET = 'client-secret-never-shown';

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A fake clock: sleeping moves time, so retries run without waiting. */
function fakeTime() {
  let t = 0;
  const sleeps: number[] = [];
  const deps: HttpDeps = {
    now: () => t,
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
    },
    random: () => 0.5,
  };
  return { deps, sleeps, advance: (ms: number) => (t += ms) };
}

/** What Node's fetch throws when it gets no answer: a TypeError whose cause holds the code. */
function fetchFailure(code: string | null, message: string): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(message), code ? { code } : {}) });
}

function client(environmentUrl: string, fetchFn: FetchLike, deps: HttpDeps, retry: Record<string, number> = {}) {
  const events: AdapterEvent[] = [];
  const options = parseOptions({ environmentUrl, auth: { kind: 'static-token', token: TOKEN }, retry: { maxAttempts: 10, ...retry } });
  const http = createHttpClient({ options, fetch: fetchFn, tokens: { getToken: async () => TOKEN }, redactor: createRedactor(), emit: (e) => events.push(e), deps });
  return { http, events };
}

async function rejection(promise: Promise<unknown>): Promise<SyncError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isSyncError(error)) throw new Error(`expected a SyncError, got ${String(error)}`, { cause: error });
  return error;
}

describe('a CRM that cannot be reached', () => {
  it('fails at once with the cause in the message when nothing listens on the port', async () => {
    const port = await closedPort();
    const { deps, sleeps } = fakeTime();
    const { http, events } = client(`http://127.0.0.1:${port}`, (url, init) => fetch(url, init), deps);
    const error = await rejection(http.send({ method: 'GET', url: 'WhoAmI' }));
    expect(error.code).toBe('CRM_UNREACHABLE');
    expect(error.message).toBe(
      `[dynamics-adapter] GET /api/data/v9.2/WhoAmI could not reach 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port} (not retried: trying again cannot help)`,
    );
    expect(error.details).toMatchObject({ attempts: 1, networkCode: 'ECONNREFUSED', scope: 'org' });
    expect(isOrgWideError(error)).toBe(true);
    expect(sleeps).toEqual([]);
    expect(events.filter((e) => e.type === 'retry')).toEqual([]);
  });

  it('does not retry an unknown host, a certificate or TLS failure, or a port fetch refuses', async () => {
    const cases: Array<[string, Error, RegExp]> = [
      ['ENOTFOUND', fetchFailure('ENOTFOUND', 'getaddrinfo ENOTFOUND contoso.crm4.dynamics.com'), /could not reach .*: getaddrinfo ENOTFOUND contoso\.crm4\.dynamics\.com \(not retried/],
      ['CERT_HAS_EXPIRED', fetchFailure('CERT_HAS_EXPIRED', 'certificate has expired'), /: certificate has expired \(CERT_HAS_EXPIRED\) \(not retried/],
      ['DEPTH_ZERO_SELF_SIGNED_CERT', fetchFailure('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), /: self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\)/],
      ['ERR_TLS_CERT_ALTNAME_INVALID', fetchFailure('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), /does not match certificate's altnames \(ERR_TLS_CERT_ALTNAME_INVALID\)/],
      [
        'ERR_SSL_WRONG_VERSION_NUMBER',
        fetchFailure('ERR_SSL_WRONG_VERSION_NUMBER', '80ACE158EA7F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:ssl3_record.c:350:\n'),
        /: TLS failure \(ERR_SSL_WRONG_VERSION_NUMBER\) \(not retried/,
      ],
    ];
    for (const [code, thrown, message] of cases) {
      let calls = 0;
      const { deps, sleeps } = fakeTime();
      const { http } = client('https://contoso.crm4.dynamics.com', async () => {
        calls += 1;
        throw thrown;
      }, deps);
      const error = await rejection(http.send({ method: 'GET', url: 'WhoAmI' }));
      expect(error.code, code).toBe('CRM_UNREACHABLE');
      expect(error.message, code).toMatch(message);
      expect(error.details.networkCode, code).toBe(code);
      expect(calls, code).toBe(1);
      expect(sleeps, code).toEqual([]);
    }
    // Port 9 (the environmentUrl): fetch refuses it without trying, for real.
    const { deps } = fakeTime();
    const badPort = await rejection(client('https://127.0.0.1:9', (url, init) => fetch(url, init), deps).http.send({ method: 'GET', url: 'WhoAmI' }));
    expect(badPort.code).toBe('CRM_UNREACHABLE');
    expect(badPort.message).toContain('could not reach 127.0.0.1:9: fetch refuses this port');
  });

  it('keeps retrying what may pass: a reset, a timeout, a DNS server that did not answer, a refusal after the host had answered', async () => {
    const transient: Error[] = [
      fetchFailure('ECONNRESET', 'read ECONNRESET'),
      new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      fetchFailure('EAI_AGAIN', 'getaddrinfo EAI_AGAIN contoso.crm4.dynamics.com'),
      fetchFailure('UND_ERR_SOCKET', 'other side closed'),
    ];
    for (const thrown of transient) {
      let calls = 0;
      const { deps, sleeps } = fakeTime();
      const { http } = client('https://contoso.crm4.dynamics.com', async () => {
        calls += 1;
        if (calls < 3) throw thrown;
        return Response.json({ UserId: 'u' });
      }, deps);
      expect((await http.send({ method: 'GET', url: 'WhoAmI' })).status, thrown.message).toBe(200);
      expect(sleeps, thrown.message).toHaveLength(2);
    }
    // A host that answered once and then refuses is restarting: retried.
    let calls = 0;
    const { deps, sleeps } = fakeTime();
    const { http } = client('https://contoso.crm4.dynamics.com', async () => {
      calls += 1;
      if (calls === 2) throw fetchFailure('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:443');
      return Response.json({ UserId: 'u' });
    }, deps);
    await http.send({ method: 'GET', url: 'WhoAmI' });
    expect((await http.send({ method: 'GET', url: 'WhoAmI' })).status).toBe(200);
    expect(calls).toBe(3);
    expect(sleeps).toHaveLength(1);
  });

  it('says how many attempts it made, how long it took, the last cause, and why it gave up', async () => {
    const { deps } = fakeTime();
    const reset = async () => {
      throw fetchFailure('ECONNRESET', 'read ECONNRESET');
    };
    const byAttempts = await rejection(client('https://contoso.crm4.dynamics.com', reset, deps, { maxAttempts: 3, baseDelayMs: 1000 }).http.send({ method: 'GET', url: 'WhoAmI' }));
    expect(byAttempts.code).toBe('CRM_UNAVAILABLE');
    // Waits of 0.5 s and 1 s (half of a cap doubling from 1 s): 1.5 s spent, 3 attempts made.
    expect(byAttempts.message).toBe('[dynamics-adapter] GET /api/data/v9.2/WhoAmI failed 3 time(s) in 1.5 s, last with no response: read ECONNRESET; gave up after 3 attempts (the limit)');
    expect(byAttempts.details).toMatchObject({ attempts: 3, elapsedMs: 1500, scope: 'org' });

    const clock = fakeTime();
    const byBudget = await rejection(
      client('https://contoso.crm4.dynamics.com', reset, clock.deps, { maxAttempts: 10, baseDelayMs: 4000, budgetMs: 5000 }).http.send({ method: 'GET', url: 'WhoAmI' }),
    );
    // 2 s, then 4 s would end at 6 s, past the 5 s budget.
    expect(byBudget.message).toBe(
      '[dynamics-adapter] GET /api/data/v9.2/WhoAmI failed 2 time(s) in 2.0 s, last with no response: read ECONNRESET; gave up: waiting 4.0 s more would pass the retry budget of 5.0 s',
    );
    expect(byBudget.details).toMatchObject({ attempts: 2, elapsedMs: 2000 });

    // Requests that only timed out may be a slow query of one table: not a failure of the whole org.
    const timedOut = await rejection(
      client('https://contoso.crm4.dynamics.com', async () => {
        throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
      }, fakeTime().deps, { maxAttempts: 2 }).http.send({ method: 'GET', url: 'contacts' }),
    );
    expect(timedOut.message).toContain('last with no response: no answer before the request timeout; gave up after 2 attempts (the limit)');
    expect(isOrgWideError(timedOut)).toBe(false);
  });
});

describe('a token authority that cannot be reached', () => {
  it('names the token step, the authority host and the cause, and sends nothing to the Web API', async () => {
    const port = await closedPort();
    const events: AdapterEvent[] = [];
    const urls: string[] = [];
    const crm = createDynamicsAdapter({
      environmentUrl: 'https://contoso.crm4.dynamics.com',
      auth: { kind: 'client-credentials', tenantId: 'tenant-1', clientId: 'client-1', clientSecret: SECRET, authorityHost: `https://127.0.0.1:${port}` },
      fetch: (url, init) => {
        urls.push(String(url));
        return fetch(url, init);
      },
      onEvent: (e) => events.push(e),
    });
    const error = await rejection(crm.whoAmI());
    expect(error.code).toBe('CRM_UNREACHABLE');
    expect(error.message).toBe(
      `[dynamics-adapter] Token request to the authority 127.0.0.1:${port} for client client-1 got no answer from 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    expect(error.details).toMatchObject({ step: 'token', authorityHost: `127.0.0.1:${port}`, scope: 'org' });
    expect(urls.length).toBeGreaterThan(0);
    expect(urls.filter((url) => !url.startsWith(`https://127.0.0.1:${port}/`))).toEqual([]);
    expect(events.filter((e) => e.type === 'request')).toEqual([]);
    expect(JSON.stringify({ message: error.message, details: error.details, cause: String(error.cause) })).not.toContain(SECRET);
  });

  it('retries an authority that may answer later, then says so without blaming the Web API request', async () => {
    const urls: string[] = [];
    const crm = createDynamicsAdapter({
      environmentUrl: 'https://contoso.crm4.dynamics.com',
      auth: { kind: 'client-credentials', tenantId: 'tenant-1', clientId: 'client-1', clientSecret: SECRET },
      retry: { maxAttempts: 2, baseDelayMs: 1 },
      fetch: async (url) => {
        urls.push(String(url));
        throw fetchFailure('ECONNRESET', 'read ECONNRESET');
      },
    });
    const error = await rejection(crm.whoAmI());
    expect(error.code).toBe('CRM_UNAVAILABLE');
    expect(error.message).toMatch(
      /^\[dynamics-adapter\] Token request to the authority login\.microsoftonline\.com for client client-1 got no answer from login\.microsoftonline\.com: read ECONNRESET, 2 time\(s\) in \d+\.\d s; gave up after 2 attempts \(the limit\); no request reached the Web API$/,
    );
    expect(isOrgWideError(error)).toBe(true);
    expect(urls.length).toBeGreaterThan(0);
    expect(urls.some((url) => url.startsWith('https://contoso.crm4.dynamics.com'))).toBe(false);
  });
});
