import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator } from '../src/index.js';

const sim = createSimulator({ contacts: 120, faults: { rules: [{ kind: 'drop', rate: 1, path: '/leads', limit: 1 }] } });
const server = setupServer(...sim.handlers);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

const api = (path: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${sim.webApiUrl()}${path}`, { ...init, headers: { Authorization: `Bearer ${sim.tokens.sync}`, ...(init.headers as Record<string, string>) } });

describe('MSW handlers (setupServer)', () => {
  it('serve the same Web API in-process on the org URL', async () => {
    const response = await api('contacts?$select=fullname', { headers: { Prefer: 'odata.maxpagesize=100' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('preference-applied')).toBe('odata.maxpagesize=100');
    const body = (await response.json()) as { value: unknown[]; '@odata.nextLink': string };
    expect(body.value).toHaveLength(100);
    expect(body['@odata.nextLink'].startsWith('https://simulated.crm.dynamics.com/api/data/v9.2/contacts?')).toBe(true);
    const next = (await (await fetch(body['@odata.nextLink'], { headers: { Authorization: `Bearer ${sim.tokens.sync}`, Prefer: 'odata.maxpagesize=100' } })).json()) as { value: unknown[] };
    expect(next.value).toHaveLength(20);
  });

  it('serve writes and errors in the real shape', async () => {
    const created = await api('accounts', { method: 'POST', body: JSON.stringify({ name: 'MSW Inc.' }), headers: { 'Content-Type': 'application/json' } });
    expect(created.status).toBe(204);
    expect(created.headers.get('odata-entityid')).toMatch(/^https:\/\/simulated\.crm\.dynamics\.com\/api\/data\/v9\.2\/accounts\(/);
    const missing = await api('nothing');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: '0x8006088a', message: "Resource not found for the segment 'nothing'." } });
  });

  it('turn a dropped connection into a network error', async () => {
    await expect(api('leads?$top=1')).rejects.toThrow(TypeError);
    expect((await api('leads?$top=1')).status).toBe(200);
  });

  it('answer the token endpoint on the login origin', async () => {
    const response = await fetch(sim.tokenUrl(), {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: sim.credentials.clientId, client_secret: sim.credentials.clientSecret, scope: `${sim.url}/.default` }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { token_type: string }).token_type).toBe('Bearer');
  });
});
