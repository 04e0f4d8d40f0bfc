import { ConfidentialClientApplication } from '@azure/msal-node';
import { setupServer } from 'msw/node';
import { describe, expect, it } from 'vitest';
import { createClock, createMsalNetworkClient, createSimulator } from '../src/index.js';
import { startOrg } from './helpers.js';

const form = (fields: Record<string, string>): RequestInit => ({
  method: 'POST',
  body: new URLSearchParams(fields).toString(),
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
});

describe('authentication', () => {
  it('issues a bearer token for client credentials that maps to the sync user', async () => {
    const org = await startOrg();
    const { credentials, users } = org.server.simulator;
    const response = await fetch(org.server.tokenUrl, form({ grant_type: 'client_credentials', client_id: credentials.clientId, client_secret: credentials.clientSecret, scope: `${org.server.url}/.default` }));
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3599 });
    expect(body.access_token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const whoAmI = await org.api('WhoAmI', { token: body.access_token as string });
    expect(((await whoAmI.json()) as { UserId: string }).UserId).toBe(users.sync.id);
  });

  it('rejects a wrong secret (401 invalid_client), an unknown client, a wrong grant and a scope without /.default', async () => {
    const org = await startOrg();
    const { credentials } = org.server.simulator;
    const base = { grant_type: 'client_credentials', client_id: credentials.clientId, client_secret: credentials.clientSecret, scope: `${org.server.url}/.default` };
    const cases: Array<[Record<string, string>, number, string]> = [
      [{ ...base, client_secret: 'nope' }, 401, 'invalid_client'],
      [{ ...base, client_id: '00000000-0000-0000-0000-000000000000' }, 400, 'unauthorized_client'],
      [{ ...base, grant_type: 'password' }, 400, 'unsupported_grant_type'],
      [{ ...base, scope: org.server.url }, 400, 'invalid_scope'],
    ];
    for (const [fields, status, error] of cases) {
      const response = await fetch(org.server.tokenUrl, form(fields));
      expect(response.status).toBe(status);
      const body = (await response.json()) as { error: string; error_description: string };
      expect(body.error).toBe(error);
      expect(body.error_description).toMatch(/^AADSTS\d+: /);
    }
  });

  it('answers no token, an unknown token and an expired token with 401 and a WWW-Authenticate challenge', async () => {
    const clock = createClock({ manual: true });
    const org = await startOrg({ clock, auth: { tokenLifetimeSeconds: 60 } });
    const none = await org.api('WhoAmI', { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer authorization_uri=.*\/oauth2\/authorize, resource_id=http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(await none.text()).toBe('');
    expect((await org.api('WhoAmI', { token: 'made-up' })).status).toBe(401);
    const { credentials } = org.server.simulator;
    const token = ((await (await fetch(org.server.tokenUrl, form({ grant_type: 'client_credentials', client_id: credentials.clientId, client_secret: credentials.clientSecret, scope: 'x/.default' }))).json()) as { access_token: string }).access_token;
    expect((await org.api('WhoAmI', { token })).status).toBe(200);
    clock.advance(61_000);
    expect((await org.api('WhoAmI', { token })).status).toBe(401);
  });

  it('serves @azure/msal-node over MSW with a normal https authority', async () => {
    const sim = createSimulator({ contacts: 20 });
    const server = setupServer(...sim.handlers);
    server.listen({ onUnhandledRequest: 'error' });
    try {
      const app = new ConfidentialClientApplication({
        auth: { clientId: sim.credentials.clientId, clientSecret: sim.credentials.clientSecret, authority: `${sim.loginUrl}/${sim.tenantId}` },
      });
      const result = await app.acquireTokenByClientCredential({ scopes: [`${sim.url}/.default`] });
      const response = await fetch(`${sim.webApiUrl()}WhoAmI`, { headers: { Authorization: `Bearer ${result!.accessToken}` } });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { UserId: string }).UserId).toBe(sim.users.sync.id);
    } finally {
      server.close();
    }
  });

  it('serves @azure/msal-node against the plain-http standalone server through a custom networkClient', async () => {
    const org = await startOrg();
    const { credentials, tenantId, users } = org.server.simulator;
    const insecure = new ConfidentialClientApplication({ auth: { clientId: credentials.clientId, clientSecret: credentials.clientSecret, authority: `${org.server.url}/${tenantId}` } });
    await expect(insecure.acquireTokenByClientCredential({ scopes: [`${org.server.url}/.default`] })).rejects.toThrow(/authority_uri_insecure/);
    const app = new ConfidentialClientApplication({
      auth: { clientId: credentials.clientId, clientSecret: credentials.clientSecret, authority: `https://login.microsoftonline.com/${tenantId}` },
      system: { networkClient: createMsalNetworkClient({ target: org.server.url }) },
    });
    const result = await app.acquireTokenByClientCredential({ scopes: [`${org.server.url}/.default`] });
    const whoAmI = await org.api('WhoAmI', { token: result!.accessToken });
    expect(((await whoAmI.json()) as { UserId: string }).UserId).toBe(users.sync.id);
  });
});
