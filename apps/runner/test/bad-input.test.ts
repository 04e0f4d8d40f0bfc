import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatorServer } from '@crm-sync/dynamics-simulator';
import { apiClient, eventually } from './helpers/http.js';
import { runCli, startRunner, writeConfig } from './helpers/runner-process.js';
import type { RunningProcess } from './helpers/runner-process.js';
import { simulatorConfig, startTestSimulator } from './helpers/simulator.js';

/** Broken configuration files: each exits 2 and names the path of the problem (and the file). */
const simulatorCrm = { kind: 'simulator', url: 'http://127.0.0.1:9' };
const brokenConfigs: Array<[string, unknown, string]> = [
  ['not JSON at all', '{ "crm": ', 'JSON'],
  ['a JSON array', [], '(root)'],
  ['an unknown CRM kind', { crm: { kind: 'salesforce' } }, 'crm.kind'],
  ['an environment URL that is not a URL', { crm: { kind: 'dynamics', environmentUrl: 'contoso', tenantId: 't', clientId: 'c' } }, 'crm.environmentUrl'],
  ['an ftp environment URL', { crm: { kind: 'dynamics', environmentUrl: 'ftp://contoso.crm.dynamics.com', tenantId: 't', clientId: 'c' } }, 'crm.environmentUrl'],
  ['a Dynamics CRM without tenant', { crm: { kind: 'dynamics', environmentUrl: 'https://contoso.crm.dynamics.com', clientId: 'c' } }, 'crm.tenantId'],
  ['a secret env name with a space', { crm: { kind: 'dynamics', environmentUrl: 'https://c.crm.dynamics.com', tenantId: 't', clientId: 'c', clientSecretEnv: 'MY SECRET' } }, 'crm.clientSecretEnv'],
  ['a concurrency above the CRM limit', { crm: { kind: 'dynamics', environmentUrl: 'https://c.crm.dynamics.com', tenantId: 't', clientId: 'c', maxConcurrency: 60 } }, 'crm.maxConcurrency'],
  ['a simulator with negative contacts', { crm: { kind: 'simulator', contacts: -5 } }, 'crm.contacts'],
  ['an unknown store kind', { crm: simulatorCrm, store: { kind: 'mysql' } }, 'store.kind'],
  ['a store schema that is not an identifier', { crm: simulatorCrm, store: { kind: 'postgres', schema: 'Bad-Schema; drop' } }, 'store.schema'],
  ['a pool of zero connections', { crm: simulatorCrm, store: { kind: 'postgres', maxConnections: 0 } }, 'store.maxConnections'],
  ['prepared statements as a word', { crm: simulatorCrm, store: { kind: 'postgres', preparedStatements: 'off' } }, 'store.preparedStatements'],
  ['an interval of 10 ms', { crm: simulatorCrm, sync: { intervalMs: 10 } }, 'sync.intervalMs'],
  ['a page size above 5,000', { crm: { ...simulatorCrm, pageSize: 10_000 } }, 'crm.pageSize'],
  ['a page size where earlier versions had it', { crm: simulatorCrm, sync: { pageSize: 100 } }, 'sync.pageSize: moved to crm.pageSize'],
  ['a negative activity threshold', { crm: simulatorCrm, sync: { changeDataValueThreshold: -1 } }, 'sync.changeDataValueThreshold'],
  ['an empty field selection', { crm: simulatorCrm, sync: { entities: { contact: { fields: [] } } } }, 'sync.entities.contact.fields'],
  ['a field name with a space', { crm: simulatorCrm, sync: { entities: { contact: { fields: ['Email Address'] } } } }, 'sync.entities.contact.fields.0'],
  ['a misspelt entity name', { crm: simulatorCrm, sync: { entities: { contacts: { enabled: false } } } }, 'sync.entities.contacts'],
  ['a custom entity without a name', { crm: simulatorCrm, sync: { customEntities: [{ relationships: [] }] } }, 'sync.customEntities.0.name'],
  ['a custom entity with its entity set named', { crm: simulatorCrm, sync: { customEntities: [{ name: 'new_x', entitySet: 'new_xs' }] } }, 'sync.customEntities.0.entitySet: no longer needed'],
  ['a custom entity named like a built-in', { crm: simulatorCrm, sync: { customEntities: [{ name: 'account' }] } }, 'sync.customEntities.0.name'],
  ['a delete share above 1', { crm: simulatorCrm, sync: { reconcileMaxDeleteShare: 2 } }, 'sync.reconcileMaxDeleteShare'],
  ['a field history retention of 0 days', { crm: simulatorCrm, sync: { historyRetentionDays: 0 } }, 'sync.historyRetentionDays'],
  ['a port above 65535', { crm: simulatorCrm, server: { port: 70_000 } }, 'server.port'],
  ['a port given as text', { crm: simulatorCrm, server: { port: 'eighty' } }, 'server.port'],
  ['an unknown log level', { crm: simulatorCrm, log: { level: 'verbose' } }, 'log.level'],
  ['a runner id with spaces', { crm: simulatorCrm, runner: { id: 'my runner' } }, 'runner.id'],
  ['an unknown top-level key', { crm: simulatorCrm, surprise: true }, 'surprise'],
];

describe(`${brokenConfigs.length} broken configuration files`, () => {
  it.each(brokenConfigs)('%s: exit 2 naming the path', async (_what, config, path) => {
    const file = writeConfig(config);
    const result = await runCli(['sync', '--once', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(path);
    expect(result.stderr).toContain(file);
  });
});

/** Bad API requests: each gets a 4xx with a clear message, and nothing changes. */
describe('bad API requests', () => {
  let sim: SimulatorServer;
  let runner: RunningProcess & { url: string };
  let api: ReturnType<typeof apiClient>;
  let leadId: string;
  let contactId: string;
  let opportunityId: string;

  beforeAll(async () => {
    sim = await startTestSimulator({ seed: 23, contacts: 200 });
    const config = writeConfig(simulatorConfig(sim, { server: { port: 0, maxBodyBytes: 4_096 } }));
    runner = await startRunner(['--config', config]);
    api = apiClient(runner.url);
    await eventually(async () => (await api.get('/api/v1/status')).json?.lastCycle, 30_000, 'the first cycle');
    leadId = (await api.get('/api/v1/entities/lead/records?limit=1')).json.items[0].id;
    contactId = (await api.get('/api/v1/entities/contact/records?limit=1')).json.items[0].id;
    opportunityId = (await api.get('/api/v1/entities/opportunity/records?limit=1')).json.items[0].id;
  }, 60_000);
  afterAll(async () => {
    await runner?.stop();
    await sim?.close();
  });

  const injection = "x' or 1=1; drop table records; --";
  const odata = "') or (contactid ne '";
  const requests = (): Array<[string, string, string, unknown?]> => [
    ['unknown entity', 'GET', '/api/v1/entities/contacts/records'],
    ['entity name with SQL', 'GET', `/api/v1/entities/${encodeURIComponent(injection)}/records`],
    ['limit 0', 'GET', '/api/v1/entities/contact/records?limit=0'],
    ['limit as text', 'GET', '/api/v1/entities/contact/records?limit=many'],
    ['limit too large', 'GET', '/api/v1/entities/contact/records?limit=100000'],
    ['where that is not JSON', 'GET', '/api/v1/entities/contact/records?where=%7Bnope'],
    ['where with a nested object', 'GET', `/api/v1/entities/contact/records?where=${encodeURIComponent('{"lastname":{"$ne":null}}')}`],
    ['where that is an array', 'GET', `/api/v1/entities/contact/records?where=${encodeURIComponent('["x"]')}`],
    ['missing record', 'GET', '/api/v1/entities/contact/records/00000000-0000-0000-0000-000000000000'],
    ['record id with SQL', 'GET', `/api/v1/entities/contact/records/${encodeURIComponent(injection)}`],
    ['record id with OData', 'GET', `/api/v1/entities/contact/records/${encodeURIComponent(odata)}`],
    ['patch a missing record', 'PATCH', `/api/v1/entities/lead/records/${encodeURIComponent(injection)}`, { fields: { subject: 'x' } }],
    ['patch with a body that is not JSON', 'PATCH', `/api/v1/entities/lead/records/{lead}`, '{"fields":'],
    ['patch with an array body', 'PATCH', `/api/v1/entities/lead/records/{lead}`, [1, 2]],
    ['patch with an unknown key', 'PATCH', `/api/v1/entities/lead/records/{lead}`, { fieldz: { subject: 'x' } }],
    ['patch a value that is an object', 'PATCH', `/api/v1/entities/lead/records/{lead}`, { fields: { subject: { text: 'x' } } }],
    ['patch a value that is an array', 'PATCH', `/api/v1/entities/lead/records/{lead}`, { fields: { subject: ['x'] } }],
    ['patch a field name with a space', 'PATCH', `/api/v1/entities/lead/records/{lead}`, { fields: { 'Job Title': 'x' } }],
    ['patch a field name with SQL', 'PATCH', `/api/v1/entities/lead/records/{lead}`, { fields: { [injection]: 'x' } }],
    ['patch a field name with OData', 'PATCH', `/api/v1/entities/lead/records/{lead}`, { fields: { [odata]: 'x' } }],
    ['patch a read-only CRM field', 'PATCH', `/api/v1/entities/contact/records/{contact}`, { fields: { fullname: 'x' } }],
    ['patch a one-way entity', 'PATCH', `/api/v1/entities/opportunity/records/{opportunity}`, { fields: { name: 'x' } }],
    ['patch account fields of a lead', 'PATCH', `/api/v1/entities/lead/records/{lead}`, { company: { name: 'x' } }],
    ['patch with an oversized body', 'PATCH', `/api/v1/entities/lead/records/{lead}`, { fields: { subject: 'x'.repeat(10_000) } }],
    ['create a person with a read-only field', 'POST', '/api/v1/persons', { fields: { fullname: 'x' } }],
    ['create a person with fields as text', 'POST', '/api/v1/persons', { fields: 'firstname=x' }],
    ['create a person with a huge number', 'POST', '/api/v1/persons', '{"fields":{"lastname":1e400}}'],
    ['create a person with an oversized body', 'POST', '/api/v1/persons', { fields: { lastname: 'y'.repeat(10_000) } }],
    ['add a field the CRM does not have', 'POST', '/api/v1/entities/contact/fields', { field: 'no_such_field' }],
    ['add a secured field the sync user cannot read', 'POST', '/api/v1/entities/contact/fields', { field: 'new_creditlimit' }],
    ['add a field given as a number', 'POST', '/api/v1/entities/contact/fields', { field: 5 }],
    ['add a field to an unknown entity', 'POST', '/api/v1/entities/nope/fields', { field: 'x' }],
    ['start a cycle of an unknown entity', 'POST', '/api/v1/cycles', { entities: ['nope'] }],
    ['a dry run given as text', 'POST', '/api/v1/cycles', { dryRun: 'yes' }],
    ['a dry run that would not wait for its plan', 'POST', '/api/v1/cycles', { dryRun: true, wait: false }],
    ['a dry run of an unknown entity', 'POST', '/api/v1/cycles', { dryRun: true, entities: ['nope'] }],
    ['quarantine in an unknown format', 'GET', '/api/v1/quarantine?format=xml'],
    ['a replay that names no entries', 'POST', '/api/v1/quarantine/replay', {}],
    ['a replay without a body', 'POST', '/api/v1/quarantine/replay', ''],
    ['a replay of id 0', 'POST', '/api/v1/quarantine/replay', { ids: [0] }],
    ['a replay of ids given as text', 'POST', '/api/v1/quarantine/replay', { ids: ['12'] }],
    ['a replay of an id no entry has', 'POST', '/api/v1/quarantine/replay', { ids: [987_654] }],
    ['a replay of an unknown entity', 'POST', '/api/v1/quarantine/replay', { entity: 'contacts' }],
    ['a replay since a time that is not one', 'POST', '/api/v1/quarantine/replay', { since: 'yesterday' }],
    ['a replay until a time before since', 'POST', '/api/v1/quarantine/replay', { since: '2026-12-05T10:00:00Z', until: '2026-12-05T09:00:00Z' }],
    ['a replay with an unknown key', 'POST', '/api/v1/quarantine/replay', { entity: 'lead', everything: true }],
    ['collisions with a negative limit', 'GET', '/api/v1/collisions?limit=-1'],
    ['field history of an unknown entity', 'GET', '/api/v1/entities/contacts/records/{contact}/fields/firstname/history'],
    ['field history of a missing record', 'GET', `/api/v1/entities/contact/records/${encodeURIComponent(injection)}/fields/firstname/history`],
    ['field history of a field name with a space', 'GET', '/api/v1/entities/contact/records/{contact}/fields/Job%20Title/history'],
    ['field history of a field name with SQL', 'GET', `/api/v1/entities/contact/records/{contact}/fields/${encodeURIComponent(injection)}/history`],
    ['field history with limit 0', 'GET', '/api/v1/entities/contact/records/{contact}/fields/firstname/history?limit=0'],
    ['field history after a cursor that is text', 'GET', '/api/v1/entities/contact/records/{contact}/fields/firstname/history?after=yesterday'],
  ];

  it('answers at least 30 bad requests with a 4xx and a message, and changes nothing', async () => {
    const snapshot = async () => ({
      status: (await api.get('/api/v1/status')).json.entities.map((e: { entity: string; stats: unknown }) => [e.entity, e.stats]),
      lead: (await api.get(`/api/v1/entities/lead/records/${leadId}`)).json.record,
      contact: (await api.get(`/api/v1/entities/contact/records/${contactId}`)).json.record,
      crmLead: sim.control.getRow('lead', leadId),
      crmWrites: sim.control.stats().orgVersion,
    });
    const before = await snapshot();
    const list = requests();
    expect(list.length).toBeGreaterThanOrEqual(30);
    const answers: string[] = [];
    for (const [what, method, rawPath, body] of list) {
      const path = rawPath.replace('{lead}', leadId).replace('{contact}', contactId).replace('{opportunity}', opportunityId);
      const response =
        method === 'GET' ? await api.get(path) : method === 'PATCH' ? await api.patch(path, body) : await api.post(path, body);
      answers.push(`${what}: ${response.status}`);
      expect(response.status, what).toBeGreaterThanOrEqual(400);
      expect(response.status, what).toBeLessThan(500);
      expect(typeof response.json?.error?.message, `${what}: ${response.text.slice(0, 200)}`).toBe('string');
      expect(response.json.error.message.length, what).toBeGreaterThan(10);
    }
    const after = await snapshot();
    expect(after).toEqual(before);
  }, 60_000);
});
