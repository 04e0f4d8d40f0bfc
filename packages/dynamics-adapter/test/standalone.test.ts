import { afterEach, describe, expect, it } from 'vitest';
import type { ChangePage } from '@crm-sync/core';
import { createMsalNetworkClient, startSimulatorServer } from '@crm-sync/dynamics-simulator';
import type { ServerOptions, SimulatorServer } from '@crm-sync/dynamics-simulator';
import { createDynamicsAdapter } from '../src/index.js';
import type { AdapterEvent } from '../src/index.js';
import { contact, failure, lead, pull } from './helpers.js';

const running: SimulatorServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(options: ServerOptions = {}): Promise<SimulatorServer> {
  const server = await startSimulatorServer({ contacts: 250, port: 0, ...options });
  running.push(server);
  return server;
}

/** The adapter's real MSAL path against the plain-http server: https authority, requests rewritten to it. */
function withClientCredentials(server: SimulatorServer, secret = server.simulator.credentials.clientSecret, events: AdapterEvent[] = []) {
  const { tenantId, clientId } = server.simulator.credentials;
  return createDynamicsAdapter({
    environmentUrl: server.url,
    auth: { kind: 'client-credentials', tenantId, clientId, clientSecret: secret, networkClient: createMsalNetworkClient({ target: server.url }) },
    pageSize: 100,
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    onEvent: (event) => events.push(event),
  });
}

describe('standalone simulator over HTTP', () => {
  it('signs in with client credentials through msal-node and pulls a snapshot, then a delta', async () => {
    const server = await start();
    const events: AdapterEvent[] = [];
    const crm = withClientCredentials(server, undefined, events);
    expect((await crm.whoAmI()).userId).toBe(server.simulator.users.sync.id);
    const initial = await pull(crm, contact, ['firstname', 'lastname', 'parentcustomerid'], null);
    expect(initial.pages).toHaveLength(3);
    expect(new Set(initial.upserts.map((r) => r.id)).size).toBe(250);
    server.control.updateRow('contact', server.simulator.dataset.idOf('contact', 1), { lastname: 'Over HTTP' });
    server.control.deleteRow('contact', server.simulator.dataset.idOf('contact', 2));
    const delta = await pull(crm, contact, ['firstname', 'lastname', 'parentcustomerid'], initial.checkpoint);
    expect(delta.upserts.map((r) => r.fields.lastname)).toEqual(['Over HTTP']);
    expect(delta.deletes).toEqual([server.simulator.dataset.idOf('contact', 2)]);
    // One token for the whole session: MSAL's cache served the rest.
    expect(events.filter((e) => e.type === 'token')).toHaveLength(1);
    expect(server.control.requestLog().length).toBeGreaterThan(0);
    expect(server.control.requestLog().filter((e) => e.status === 401)).toEqual([]);
  });

  it('writes over HTTP: a batch with a 412 and a create', async () => {
    const server = await start({ contacts: 20 });
    const crm = withClientCredentials(server);
    const id = server.simulator.dataset.idOf('contact', 3);
    const [first] = await crm.updateRecords(contact, [{ id, ifVersion: null, fields: { jobtitle: 'one' } }]);
    expect(first?.ok).toBe(true);
    const results = await crm.updateRecords(contact, [
      { id, ifVersion: '1', fields: { jobtitle: 'stale' } },
      { id: server.simulator.dataset.idOf('contact', 4), ifVersion: null, fields: { jobtitle: 'fine' } },
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.kind))).toEqual(['collision', 'ok']);
    const [created] = await crm.createRecords(lead, [{ id: '2b2b2b2b-0000-4000-8000-000000000001', fields: { lastname: 'Http' } }]);
    expect(created).toMatchObject({ ok: true, created: true });
  });

  it('refuses a wrong secret with CRM_AUTH_FAILED and never shows it', async () => {
    const server = await start({ contacts: 5 });
    const wrong = `${server.simulator.credentials.clientSecret}-but-wrong`;
    const events: AdapterEvent[] = [];
    const error = await failure(withClientCredentials(server, wrong, events).whoAmI());
    expect(error.code).toBe('CRM_AUTH_FAILED');
    const seen = JSON.stringify([error.message, error.details, String(error.cause), (error.cause as Error | undefined)?.cause, events]);
    expect(seen).not.toContain(wrong);
  });

  it('loads in parallel ranges over HTTP, resumes after a crash, then reads the delta', async () => {
    const server = await start({ contacts: 3000 });
    const crm = createDynamicsAdapter({
      environmentUrl: server.url,
      auth: { kind: 'static-token', token: server.simulator.tokens.sync },
      pageSize: 250,
      initialLoad: { parallel: true, rangeSize: 400, maxRanges: 4 },
    });
    const fields = ['firstname', 'lastname'];
    const before: ChangePage[] = [];
    const iterator = crm.pullChanges(contact, { checkpoint: null, fields })[Symbol.asyncIterator]();
    while (before.length < 5) before.push((await iterator.next()).value as ChangePage);
    await iterator.return?.();
    const id = server.simulator.dataset.idOf('contact', 2999);
    server.control.updateRow('contact', id, { lastname: 'During the load' });
    const rest = await pull(crm, contact, fields, before.at(-1)!.checkpoint);
    const pages = [...before, ...rest.pages];
    expect(new Set(pages.flatMap((p) => p.upserts.map((r) => r.id))).size).toBe(3000);
    expect(new Set(pages.map((p) => p.snapshot?.id)).size).toBe(1);
    expect(pages.at(-1)?.snapshot?.complete).toBe(true);
    const delta = await pull(crm, contact, fields, rest.checkpoint);
    expect(delta.upserts.map((r) => [r.id, r.fields.lastname])).toEqual([[id, 'During the load']]);
  });

  it('rides out the service protection limits over HTTP with a static token', async () => {
    const server = await start({ contacts: 150, clock: { scale: 300 }, limits: { maxRequests: 8 } });
    const events: AdapterEvent[] = [];
    const crm = createDynamicsAdapter({
      environmentUrl: server.url,
      auth: { kind: 'static-token', token: server.simulator.tokens.sync },
      pageSize: 10,
      initialLoad: { rangeSize: 10 },
      // No pacing: this is about Retry-After over HTTP.
      serviceProtection: { pacing: false },
      onEvent: (event) => events.push(event),
    });
    const result = await pull(crm, contact, ['lastname'], null);
    expect(result.upserts).toHaveLength(150);
    expect(events.some((e) => e.type === 'throttled')).toBe(true);
  }, 30_000);
});
