import { afterAll, describe, expect, it } from 'vitest';
import type { SimulatorServer } from '@crm-sync/dynamics-simulator';
import { apiClient, eventually } from './helpers/http.js';
import { cleanEnv, logLines, startRunner, writeConfig } from './helpers/runner-process.js';
import { simulatorConfig, startTestSimulator } from './helpers/simulator.js';

/**
 * A full run with debug logging: sign-in through MSAL client credentials (the simulator's token
 * endpoint), cycles with pulls and pushes, API calls with and without the token, a shutdown. Not
 * one byte of output may carry the client secret, an access token or the API token.
 */
describe('secrets in a full run with debug logging', () => {
  let sim: SimulatorServer | undefined;
  afterAll(async () => sim?.close());

  it('never prints the client secret, an access token or the API token', async () => {
    sim = await startTestSimulator({ seed: 31, contacts: 300 });
    const apiToken = 'api-token-of-this-test-0123456789';
    const config = writeConfig(
      simulatorConfig(sim, { crm: { kind: 'simulator', url: sim.url, auth: 'client-credentials' }, log: { level: 'debug', format: 'json' } }),
    );
    const runner = await startRunner(['--config', config], cleanEnv({ CRM_SYNC_API_TOKEN: apiToken }));
    const api = apiClient(runner.url, apiToken);
    await eventually(async () => (await api.get('/api/v1/status')).json?.lastCycle, 30_000, 'the first cycle');
    const lead = (await api.get('/api/v1/entities/lead/records?limit=1')).json.items[0].id as string;
    expect((await api.patch(`/api/v1/entities/lead/records/${lead}`, { fields: { subject: 'pushed with a token' } })).status).toBe(200);
    expect((await api.post('/api/v1/cycles', {})).status).toBe(200);
    expect(sim.control.getRow('lead', lead)?.subject).toBe('pushed with a token');
    expect((await apiClient(runner.url).get('/api/v1/status')).status).toBe(401);
    expect((await apiClient(runner.url, 'wrong-token-wrong-token').get('/api/v1/status')).status).toBe(401);
    const result = await runner.stop('SIGTERM');
    expect(result.code).toBe(0);

    const output = result.stdout + result.stderr;
    // The run really logged at debug level and really signed in with client credentials.
    expect(logLines(result.stderr).filter((l) => l.level === 'debug').length).toBeGreaterThan(5);
    expect(sim.control.requestLog().some((e) => e.userId === sim?.simulator.users.sync.id && e.status === 200)).toBe(true);
    const secret = sim.simulator.credentials.clientSecret;
    expect(output).not.toContain(secret);
    expect(output).not.toContain(apiToken);
    expect(output).not.toContain(sim.simulator.tokens.sync);
    expect(output).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // no JWT-shaped access token
    expect(output).not.toMatch(/Bearer\s+(?!\[redacted\])\S{8,}/i);
  }, 90_000);
});
