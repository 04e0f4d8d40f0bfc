import { http as route, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isSyncError } from '@crm-sync/core';
import type { SyncError } from '@crm-sync/core';
import { createDynamicsAdapter } from '../src/index.js';
import type { AdapterEvent } from '../src/index.js';

const ENV = 'https://org.crm.dynamics.com';
const TENANT = '0f0e0d0c-0b0a-4909-8807-060504030201';
const CLIENT = 'a1a1a1a1-b2b2-4c3c-8d4d-e5e5e5e5e5e5';
const SECRET = 'client-secret-value-do-not-show';
const USER = '11111111-2222-4333-8444-555555555555';
const TOKEN_URL = `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`;

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  server.resetHandlers();
  vi.restoreAllMocks();
});
afterAll(() => server.close());

/** Token endpoint issuing token-1, token-2, ... and recording each request's form. */
function tokenEndpoint() {
  const forms: URLSearchParams[] = [];
  server.use(
    route.post(TOKEN_URL, async ({ request }) => {
      const form = new URLSearchParams(await request.text());
      forms.push(form);
      if (form.get('client_secret') !== SECRET) {
        // A hostile or buggy endpoint that echoes the secret it got: it must still never surface.
        return HttpResponse.json(
          { error: 'invalid_client', error_description: `AADSTS7000215: Invalid client secret provided: ${form.get('client_secret') ?? ''}`, error_codes: [7000215] },
          { status: 401 },
        );
      }
      return HttpResponse.json({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: `access-token-number-${forms.length}` });
    }),
  );
  return forms;
}

function adapter(secret = SECRET, events: AdapterEvent[] = []) {
  return createDynamicsAdapter({
    environmentUrl: ENV,
    auth: { kind: 'client-credentials', tenantId: TENANT, clientId: CLIENT, clientSecret: secret },
    retry: { maxAttempts: 2, baseDelayMs: 0 },
    onEvent: (e) => events.push(e),
  });
}

async function failure(promise: Promise<unknown>): Promise<SyncError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isSyncError(error)) throw new Error(`expected a SyncError, got ${String(error)}`);
  return error;
}

/** Everything an operator could see of an error: message, details and the whole cause chain. */
function visible(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && depth < 10; depth += 1) {
    if (current instanceof Error) {
      parts.push(current.name, current.message, String(current.stack), JSON.stringify(current));
      const details = (current as { details?: unknown }).details;
      if (details) parts.push(JSON.stringify(details));
      current = current.cause;
    } else {
      parts.push(JSON.stringify(current));
      current = undefined;
    }
  }
  return parts.join('\n');
}

describe('client credentials (msal-node)', () => {
  it('asks for <environment>/.default with the secret, caches the token, and sends it', async () => {
    const forms = tokenEndpoint();
    const auth: string[] = [];
    server.use(
      route.get(`${ENV}/api/data/v9.2/WhoAmI`, ({ request }) => {
        auth.push(request.headers.get('authorization') ?? '');
        return HttpResponse.json({ UserId: USER, OrganizationId: TENANT });
      }),
    );
    const crm = adapter();
    expect(await crm.whoAmI()).toEqual({ userId: USER, organizationId: TENANT });
    expect(forms).toHaveLength(1);
    expect(forms[0]?.get('grant_type')).toBe('client_credentials');
    expect(forms[0]?.get('scope')?.split(' ')).toContain(`${ENV}/.default`);
    expect(forms[0]?.get('client_id')).toBe(CLIENT);
    expect(auth).toEqual(['Bearer access-token-number-1']);
  });

  it('forces one token refresh after an unexpected 401', async () => {
    const forms = tokenEndpoint();
    server.use(
      route.get(`${ENV}/api/data/v9.2/WhoAmI`, ({ request }) =>
        request.headers.get('authorization') === 'Bearer access-token-number-2'
          ? HttpResponse.json({ UserId: USER })
          : new HttpResponse(null, { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } }),
      ),
    );
    const events: AdapterEvent[] = [];
    await adapter(SECRET, events).whoAmI();
    expect(forms).toHaveLength(2);
    expect(events.filter((e) => e.type === 'token')).toEqual([
      { type: 'token', forced: false },
      { type: 'token', forced: true },
    ]);
  });

  it('keeps the secret and tokens out of errors, causes, events and logs', async () => {
    tokenEndpoint();
    const logged: string[] = [];
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        logged.push(args.map(String).join(' '));
      });
    }
    const events: AdapterEvent[] = [];
    const wrong = `${SECRET}-wrong`;
    const error = await failure(adapter(wrong, events).whoAmI());
    expect(error.code).toBe('CRM_AUTH_FAILED');
    expect(error.message).toMatch(/^\[dynamics-adapter\] Token request to the authority login\.microsoftonline\.com for client .* was refused \(invalid_client\): AADSTS7000215: Invalid client secret provided: \[redacted\]$/);
    const seen = [visible(error), JSON.stringify(events), logged.join('\n')].join('\n');
    expect(seen).toContain('[redacted]');
    expect(seen).not.toContain(SECRET);

    // A valid token that the API then refuses twice: the token itself must not leak either.
    server.use(route.get(`${ENV}/api/data/v9.2/WhoAmI`, () => new HttpResponse('denied access-token-number-1 access-token-number-2', { status: 401 })));
    const denied = await failure(adapter(SECRET, events).whoAmI());
    expect(denied.code).toBe('CRM_AUTH_FAILED');
    const seen2 = [visible(denied), JSON.stringify(events), logged.join('\n')].join('\n');
    expect(seen2).not.toMatch(/access-token-number/);
    expect(seen2).not.toContain(SECRET);
  });

  it('reports an unreachable login endpoint as CRM_UNAVAILABLE after the retry budget', async () => {
    server.use(route.post(TOKEN_URL, () => HttpResponse.error()));
    const error = await failure(adapter().whoAmI());
    expect(error.code).toBe('CRM_UNAVAILABLE');
    expect(visible(error)).not.toContain(SECRET);
  });
});

describe('static token', () => {
  it('calls a token function again with force after a 401', async () => {
    const calls: boolean[] = [];
    server.use(
      route.get(`${ENV}/api/data/v9.2/WhoAmI`, ({ request }) =>
        request.headers.get('authorization') === 'Bearer second-token-value' ? HttpResponse.json({ UserId: USER }) : new HttpResponse(null, { status: 401 }),
      ),
    );
    const crm = createDynamicsAdapter({
      environmentUrl: ENV,
      auth: {
        kind: 'static-token',
        token: (force: boolean) => {
          calls.push(force);
          return force ? 'second-token-value' : 'first-token-value';
        },
      },
    });
    expect((await crm.whoAmI()).userId).toBe(USER);
    expect(calls).toEqual([false, true]);
  });
});
