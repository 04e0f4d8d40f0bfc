import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatorServer } from '@crm-sync/dynamics-simulator';
import { apiClient, eventually } from './helpers/http.js';
import { cleanEnv, logLines, runCli, startRunner, writeConfig } from './helpers/runner-process.js';
import type { RunningProcess } from './helpers/runner-process.js';
import { expectedSynced, lowerMaxLength, simulatorConfig, startTestSimulator } from './helpers/simulator.js';

let sim: SimulatorServer;
let runner: RunningProcess & { url: string };
let api: ReturnType<typeof apiClient>;
const LEAD_FIELDS = ['firstname', 'lastname', 'emailaddress1', 'telephone1', 'subject', 'companyname'];

/** A synced record id of an entity (the first one the store lists). */
async function someId(entity: string, skip = 0): Promise<string> {
  const page = await api.get(`/api/v1/entities/${entity}/records?limit=${skip + 1}`);
  return page.json.items[skip].id as string;
}

beforeAll(async () => {
  sim = await startTestSimulator({ seed: 11, contacts: 400 });
  const config = writeConfig(simulatorConfig(sim, { sync: { entities: { lead: { fields: LEAD_FIELDS } } }, server: { port: 0, maxBodyBytes: 4_096 } }));
  runner = await startRunner(['--config', config]);
  api = apiClient(runner.url);
  await eventually(async () => (await api.get('/api/v1/status')).json?.lastCycle, 30_000, 'the first cycle');
});

afterAll(async () => {
  await runner?.stop();
  await sim?.close();
});

describe('HTTP API', () => {
  it('serves an OpenAPI document with the bearer scheme and every route', async () => {
    const doc = await api.get('/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.json.openapi).toMatch(/^3\./);
    expect(doc.json.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const path of [
      '/api/v1/status',
      '/api/v1/entities/{entity}/records',
      '/api/v1/entities/{entity}/records/{id}',
      '/api/v1/persons',
      '/api/v1/collisions',
      '/api/v1/quarantine',
      '/api/v1/errors',
      '/api/v1/cycles',
      '/api/v1/quarantine/replay',
      '/api/v1/entities/{entity}/fields',
      '/api/v1/entities/{entity}/records/{id}/fields/{field}/history',
      '/metrics',
    ]) {
      expect(doc.json.paths[path], path).toBeDefined();
    }
    expect(Object.keys(doc.json.paths['/api/v1/entities/{entity}/records/{id}'])).toEqual(expect.arrayContaining(['get', 'patch', 'delete']));
    expect(Object.keys(doc.json.paths['/api/v1/entities/{entity}/records'])).toEqual(expect.arrayContaining(['get', 'post']));
  });

  it('reports status and pages records by entity, with filters', async () => {
    const status = await api.get('/api/v1/status');
    const contact = status.json.entities.find((e: { entity: string }) => e.entity === 'contact');
    expect(contact.stats.records).toBe(expectedSynced(sim, 'contact'));
    expect(contact.lastRun.status).toBe('ok');
    const first = await api.get('/api/v1/entities/contact/records?limit=2');
    expect(first.json.items).toHaveLength(2);
    const second = await api.get(`/api/v1/entities/contact/records?limit=2&after=${encodeURIComponent(first.json.next)}`);
    expect(second.json.items[0].id > first.json.items[1].id).toBe(true);
    const lastname = first.json.items[0].fields.lastname as string;
    const filtered = await api.get(`/api/v1/entities/contact/records?limit=1000&where=${encodeURIComponent(JSON.stringify({ lastname }))}`);
    expect(filtered.json.items.length).toBeGreaterThan(0);
    expect(filtered.json.items.every((r: { fields: { lastname: string } }) => r.fields.lastname === lastname)).toBe(true);
    const badWhere = await api.get('/api/v1/entities/contact/records?where=%7Bnot-json');
    expect(badWhere.status).toBe(400);
    expect(badWhere.json.error.message).toContain('query.where');
  });

  it('pushes a local edit of a person to the CRM in the next cycle', async () => {
    const id = await someId('lead');
    const edit = await api.patch(`/api/v1/entities/lead/records/${id}`, { fields: { subject: 'Edited through the API' } });
    expect(edit.status).toBe(200);
    expect(edit.json.pending).toContain('subject');
    const cycle = await api.post('/api/v1/cycles', { entities: ['lead'] });
    expect(cycle.status).toBe(200);
    expect(cycle.json.entities[0]).toMatchObject({ entity: 'lead', status: 'ok', pushed: 1 });
    expect(sim.control.getRow('lead', id)?.subject).toBe('Edited through the API');
    const one = await api.get(`/api/v1/entities/lead/records/${id}`);
    expect(one.json.record.pending).toEqual([]);
    expect(one.json.activities).toContainEqual(expect.objectContaining({ type: 'change-data-value', source: 'local', field: 'subject', newValue: 'Edited through the API' }));
  });

  it('plans a cycle with dryRun, writing nothing on either side; the real cycle after it does what the plan said', async () => {
    const leadId = await someId('lead', 3);
    const contactId = await someId('contact', 2);
    expect((await api.patch(`/api/v1/entities/lead/records/${leadId}`, { fields: { subject: 'Planned push' } })).status).toBe(200);
    sim.control.updateRow('contact', contactId, { jobtitle: 'Planned pull' });
    const lead = (await api.get(`/api/v1/entities/lead/records/${leadId}`)).json.record;
    const contact = (await api.get(`/api/v1/entities/contact/records/${contactId}`)).json.record;
    const cycles = (await api.get('/api/v1/cycles')).json.items.length;
    const since = sim.control.requestLog().at(-1)?.seq ?? 0;
    const plan = await api.post('/api/v1/cycles', { entities: ['contact', 'lead'], dryRun: true });
    expect(plan.status).toBe(200);
    expect(plan.json.dryRun).toBe(true);
    // Nothing was sent to the CRM but reads, and nothing changed in the store.
    const requests = sim.control.requestLog({ since });
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(sim.control.getRow('lead', leadId)?.subject).not.toBe('Planned push');
    expect((await api.get(`/api/v1/entities/lead/records/${leadId}`)).json.record).toEqual(lead);
    expect((await api.get(`/api/v1/entities/contact/records/${contactId}`)).json.record).toEqual(contact);
    expect((await api.get('/api/v1/cycles')).json.items.length).toBe(cycles);
    const of = (entity: string) => plan.json.entities.find((e: { entity: string }) => e.entity === entity);
    expect(of('lead').pushes.items).toEqual([{ id: leadId, kind: 'update', fields: { subject: 'Planned push' } }]);
    expect(of('lead').crmRequests.writes).toBe(1);
    expect(of('contact').updated.items).toEqual([{ id: contactId, fields: ['jobtitle'] }]);
    expect(of('contact').skippedFields.length).toBeGreaterThan(0);

    const real = await api.post('/api/v1/cycles', { entities: ['contact', 'lead'] });
    for (const summary of real.json.entities) {
      const planned = of(summary.entity).summary;
      for (const key of ['status', 'pulled', 'applied', 'pushed', 'created', 'collisions', 'deleted', 'quarantined']) expect(summary[key], `${summary.entity}.${key}`).toBe(planned[key]);
    }
    expect(sim.control.getRow('lead', leadId)?.subject).toBe('Planned push');

    // The CLI plans through the running runner, whose store is synced: nothing to create (a store of its own would create every lead).
    const cli = await runCli(['sync', '--dry-run', '--json', '--entity', 'lead', '--url', runner.url], cleanEnv());
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).entities[0]).toMatchObject({ entity: 'lead', created: { total: 0 }, pushes: { total: 0 } });
  });

  it('applies a local account edit to every contact of the account and never pushes it', async () => {
    const contacts = (await api.get('/api/v1/entities/contact/records?limit=1000')).json.items as { id: string; accountId: string | null }[];
    const accountId = contacts.find((c) => c.accountId !== null)?.accountId as string;
    const before = sim.control.getRow('account', accountId)?.address1_city;
    const edit = await api.patch(`/api/v1/entities/account/records/${accountId}`, { fields: { address1_city: 'Edited Locally' } });
    expect(edit.status).toBe(200);
    expect(edit.json.fields.address1_city).toBe('Edited Locally');
    const after = (await api.get('/api/v1/entities/contact/records?limit=1000')).json.items as { accountId: string | null; company: Record<string, unknown> }[];
    const members = after.filter((c) => c.accountId === accountId);
    expect(members.length).toBeGreaterThan(0);
    expect(members.every((c) => c.company.address1_city === 'Edited Locally')).toBe(true);
    const cycle = await api.post('/api/v1/cycles', { entities: ['account'] });
    expect(cycle.json.entities[0]).toMatchObject({ entity: 'account', pushed: 0 });
    expect(sim.control.getRow('account', accountId)?.address1_city).toBe(before);
  });

  it('answers invalid input with a 4xx and a clear message, and changes nothing', async () => {
    const id = await someId('lead', 1);
    const before = (await api.get(`/api/v1/entities/lead/records/${id}`)).json.record;
    const cases: [number, Promise<{ status: number; json: { error: { code: string; message: string; known?: string[] } } }>, string][] = [
      [400, api.patch(`/api/v1/entities/lead/records/${id}`, { fields: { 'Not A Name': 1 } }), 'body.fields.Not A Name'],
      [400, api.patch(`/api/v1/entities/lead/records/${id}`, { fields: { subject: { nested: true } } }), 'body.fields.subject'],
      [400, api.patch(`/api/v1/entities/lead/records/${id}`, { fields: { subject: 'x' }, extra: 1 }), 'extra'],
      [400, api.patch(`/api/v1/entities/lead/records/${id}`, {}), 'at least one field'],
      [400, api.patch(`/api/v1/entities/lead/records/${id}`, '{"fields":'), 'JSON'],
      [404, api.patch(`/api/v1/entities/nope/records/${id}`, { fields: { subject: 'x' } }), 'known: systemuser'],
      [404, api.patch('/api/v1/entities/lead/records/no-such-id', { fields: { subject: 'x' } }), 'No lead'],
      [422, api.patch(`/api/v1/entities/lead/records/${id}`, { fields: { fullname: 'Read Only' } }), 'fullname'],
      [422, api.patch(`/api/v1/entities/lead/records/${id}`, { fields: { emailaddress1: `${'x'.repeat(301)}@example.com` } }), 'lead.emailaddress1: 313 characters, the CRM accepts at most 100'],
      [422, api.patch(`/api/v1/entities/lead/records/${id}`, { fields: { lastname: null } }), 'lead.lastname: required by the CRM'],
      [422, api.post('/api/v1/persons', { fields: { lastname: 'Long', subject: 'y'.repeat(301) } }), 'lead.subject: 301 characters, the CRM accepts at most 300'],
      [422, api.patch(`/api/v1/entities/opportunity/records/${await someId('opportunity')}`, { fields: { name: 'x' } }), 'one way'],
      [413, api.patch(`/api/v1/entities/lead/records/${id}`, { fields: { subject: 'x'.repeat(10_000) } }), 'limited'],
      [400, api.post('/api/v1/persons', { fields: {} }), 'at least one field'],
      [422, api.post('/api/v1/entities/account/fields', { field: 'no_such_column' }), 'does not exist in the CRM'],
      [404, api.get('/api/v1/entities/nope/fields'), 'Unknown entity'],
      [400, api.get('/api/v1/collisions?limit=0'), 'query.limit'],
      [400, api.post('/api/v1/cycles', { dryRun: true, wait: false }), 'wait cannot be false'],
    ];
    for (const [status, pending, text] of cases) {
      const response = await pending;
      expect(response.status, text).toBe(status);
      expect(response.json.error.code, text).toMatch(/^[A-Z_]+$/);
      expect(response.json.error.message, text).toContain(text);
    }
    const unknown = await api.get('/api/v1/entities/nope/records');
    expect(unknown.json.error.known).toEqual(expect.arrayContaining(['contact', 'lead', 'account']));
    const after = (await api.get(`/api/v1/entities/lead/records/${id}`)).json.record;
    expect(after.revision).toBe(before.revision);
    expect(after.fields).toEqual(before.fields);
  });

  it('refuses with 409 an edit of CRM fields of a record deleted in the CRM, naming it, and changes nothing', async () => {
    const id = await someId('contact', 5);
    sim.control.deleteRow('contact', id);
    expect((await api.post('/api/v1/cycles', { entities: ['contact'] })).status).toBe(200);
    const before = (await api.get(`/api/v1/entities/contact/records/${id}`)).json.record;
    expect(before.crmDeleted).toBe(true);
    const edit = await api.patch(`/api/v1/entities/contact/records/${id}`, { fields: { jobtitle: 'Never pushed' } });
    expect(edit.status).toBe(409);
    expect(edit.json.error.code).toBe('RECORD_CRM_DELETED');
    expect(edit.json.error.message).toContain(id);
    const after = (await api.get(`/api/v1/entities/contact/records/${id}`)).json.record;
    expect(after.revision).toBe(before.revision);
    expect(after.pending).toEqual([]);
  });

  it('refuses with 403 to create an account or any one-way record (R5) and writes nothing; creates leads', async () => {
    const records = async (entity: string) => (await api.get('/api/v1/status')).json.entities.find((e: { entity: string }) => e.entity === entity).stats.records as number;
    for (const entity of ['account', 'opportunity', 'systemuser', 'team']) {
      const before = await records(entity);
      const created = await api.post(`/api/v1/entities/${entity}/records`, { fields: { name: 'Made locally' } });
      expect(created.status, entity).toBe(403);
      expect(created.json.error.code).toBe('CRM_CREATE_REFUSED');
      expect(created.json.error.message).toContain('R5: crm-sync never creates accounts or records of one-way entities in the CRM');
      expect(await records(entity)).toBe(before);
    }
    const contact = await api.post('/api/v1/entities/contact/records', { fields: { lastname: 'Contact' } });
    expect(contact.status).toBe(422);
    expect(contact.json.error.message).toContain('created as a lead');
    const lead = await api.post('/api/v1/entities/lead/records', { fields: { lastname: 'Through the records route' }, syncToCrm: false });
    expect(lead.status).toBe(201);
    expect(lead.json).toMatchObject({ entity: 'lead', crmId: null, syncToCrm: false });
    // Deleted again (locally only, never in the CRM), so the other tests find the leads they counted.
    expect((await api.del(`/api/v1/entities/lead/records/${lead.json.id}`)).status).toBe(204);
  });

  it('deletes a person locally only (R12); the CRM changing it later brings it back as a new person', async () => {
    const id = await someId('contact', 7);
    const deleted = await api.del(`/api/v1/entities/contact/records/${id}`);
    expect(deleted.status).toBe(204);
    expect((await api.get(`/api/v1/entities/contact/records/${id}`)).status).toBe(404);
    expect((await api.del(`/api/v1/entities/contact/records/${id}`)).status).toBe(404);
    const log = await api.get(`/api/v1/entities/contact/records/${id}/activities?latest=true&limit=1`);
    expect(log.json.items[0]).toMatchObject({ type: 'local-deleted', source: 'local' });
    expect((await api.post('/api/v1/cycles', { entities: ['contact'] })).json.entities[0]).toMatchObject({ status: 'ok', pushed: 0 });
    expect(sim.control.getRow('contact', id)).not.toBeNull();
    expect((await api.get(`/api/v1/entities/contact/records/${id}`)).status).toBe(404);
    sim.control.updateRow('contact', id, { jobtitle: 'Changed in the CRM' });
    await api.post('/api/v1/cycles', { entities: ['contact'] });
    const back = await api.get(`/api/v1/entities/contact/records/${id}`);
    expect(back.json.record.fields.jobtitle).toBe('Changed in the CRM');
    expect(back.json.activities.map((a: { type: string }) => a.type).slice(-2)).toEqual(['local-deleted', 'new-person']);
    const account = await api.del(`/api/v1/entities/account/records/${await someId('account')}`);
    expect(account.status).toBe(422);
    expect(account.json.error.message).toContain('one way');
  });

  it('creates a local person in the CRM as a lead', async () => {
    const created = await api.post('/api/v1/persons', { fields: { firstname: 'Nova', lastname: 'Created', emailaddress1: 'nova@example.com' } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ entity: 'lead', crmId: null, syncToCrm: true });
    const cycle = await api.post('/api/v1/cycles', { entities: ['lead'] });
    expect(cycle.json.entities[0].created).toBe(1);
    expect(sim.control.getRow('lead', created.json.id)).toMatchObject({ lastname: 'Created', emailaddress1: 'nova@example.com' });
  });

  it('lists collisions and sync errors, with a CSV export', async () => {
    const contactId = await someId('contact');
    sim.control.updateRow('contact', contactId, { jobtitle: 'Set in the CRM' });
    expect((await api.patch(`/api/v1/entities/contact/records/${contactId}`, { fields: { jobtitle: 'Set by marketing' } })).status).toBe(200);
    // A value the CRM refuses on push: accepted locally (telephone1 held 50 characters), then the
    // column was shortened to 10 in the CRM. The push is quarantined.
    const leadId = await someId('lead', 2);
    expect((await api.patch(`/api/v1/entities/lead/records/${leadId}`, { fields: { telephone1: '+1 555 0199 ext 12' } })).status).toBe(200);
    const restore = lowerMaxLength(sim, 'lead', 'telephone1', 10);
    const cycle = await api.post('/api/v1/cycles', {});
    restore();
    expect(cycle.status).toBe(200);

    const collisions = await api.get('/api/v1/collisions?latest=true&limit=5');
    expect(collisions.json.items[0]).toMatchObject({ entity: 'contact', recordId: contactId, field: 'jobtitle', winner: 'crm', crmValue: 'Set in the CRM' });
    const paged = await api.get('/api/v1/collisions?limit=1');
    expect(paged.json.items).toHaveLength(1);

    const quarantine = await api.get('/api/v1/quarantine?entity=lead');
    expect(quarantine.json.items).toContainEqual(expect.objectContaining({ recordId: leadId, direction: 'push' }));
    const errors = await api.get('/api/v1/errors');
    expect(errors.json.items).toContainEqual(expect.objectContaining({ entity: 'lead', recordId: leadId, type: 'push' }));
    const csv = await api.get('/api/v1/errors?format=csv');
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(csv.text.split('\r\n')[0]).toBe('at,entity,recordId,type,code,message');
    expect(csv.text).toContain(leadId);
    const quarantineCsv = await api.get('/api/v1/quarantine?format=csv');
    expect(quarantineCsv.text).toContain(leadId);
  });

  it('replays refused pushes once the cause is fixed: the fixed one is applied and resolved, a still-broken one stays open', async () => {
    const startedAt = new Date(Date.now() - 1_000).toISOString();
    const [fixed, broken] = [await someId('lead', 4), await someId('lead', 5)];
    for (const id of [fixed, broken]) expect((await api.patch(`/api/v1/entities/lead/records/${id}`, { fields: { telephone1: '+1 555 0177 ext 34' } })).status).toBe(200);
    const restore = lowerMaxLength(sim, 'lead', 'telephone1', 10);
    let restored = false;
    try {
      expect((await api.post('/api/v1/cycles', { entities: ['lead'] })).json.entities[0].quarantined).toBe(2);
      const entries = (await api.get('/api/v1/quarantine?entity=lead&limit=1000')).json.items as { seq: number; recordId: string }[];
      const seqOf = (id: string) => entries.filter((q) => q.recordId === id).at(-1)?.seq as number;
      const errors = (await api.get('/api/v1/errors?limit=1000')).json.items as { seq: number | null; recordId: string | null }[];
      expect(errors.find((e) => e.recordId === fixed)?.seq).toBe(seqOf(fixed));

      // Still too long for the CRM: the replay (through the CLI and the runner) fails and the entry stays open.
      const still = await runCli(['errors', 'replay', '--id', String(seqOf(broken)), '--json', '--url', runner.url], cleanEnv());
      expect(still.code, still.stderr).toBe(1);
      expect(JSON.parse(still.stdout)).toMatchObject({ matched: 1, applied: 0, failed: 1, entries: [{ seq: seqOf(broken), outcome: 'failed', reason: expect.stringContaining('telephone1') }] });
      restore();
      restored = true;
      const replayed = await api.post('/api/v1/quarantine/replay', { ids: [seqOf(fixed)] });
      expect(replayed.status).toBe(200);
      expect(replayed.json).toMatchObject({ matched: 1, applied: 1, failed: 0, entries: [{ seq: seqOf(fixed), recordId: fixed, direction: 'push', outcome: 'applied', reason: null }] });
      expect(sim.control.getRow('lead', fixed)?.telephone1).toBe('+1 555 0177 ext 34');
      const open = (await api.get('/api/v1/quarantine?entity=lead&limit=1000')).json.items as { seq: number; recordId: string; reason: string }[];
      expect(open.some((q) => q.recordId === fixed)).toBe(false);
      expect(open.filter((q) => q.recordId === broken).length).toBeGreaterThan(0);
      expect(sim.control.getRow('lead', broken)?.telephone1).not.toBe('+1 555 0177 ext 34');
      const log = await api.get(`/api/v1/entities/lead/records/${fixed}/activities?latest=true&limit=1`);
      expect(log.json.items[0]).toMatchObject({ type: 'replay', source: 'sync', detail: `replay of quarantine entry ${seqOf(fixed)} (push): applied` });
      // Ids that name no open entry (the one just applied): 404, nothing retried.
      const again = await api.post('/api/v1/quarantine/replay', { ids: [seqOf(fixed)] });
      expect(again.status).toBe(404);
      expect(again.json.error).toMatchObject({ code: 'QUARANTINE_ENTRY_UNKNOWN', message: expect.stringContaining(String(seqOf(fixed))) });
      // By entity, reason (any case) and time: the broken one, now that the column is long enough again, goes
      // through (with any other lead refused for that length since this test began: they go through too).
      const byReason = await api.post('/api/v1/quarantine/replay', { entity: 'lead', reason: 'MAXIMUM ALLOWED LENGTH', since: startedAt });
      expect(byReason.status).toBe(200);
      expect(byReason.json.entries.length).toBeGreaterThan(0);
      const outcomes = byReason.json.entries as { recordId: string; outcome: string; reason: string | null }[];
      expect(outcomes.filter((e) => e.outcome !== 'applied')).toEqual([]);
      expect(outcomes.some((e) => e.recordId === broken)).toBe(true);
      expect(outcomes.some((e) => e.recordId === fixed)).toBe(false);
      expect(sim.control.getRow('lead', broken)?.telephone1).toBe('+1 555 0177 ext 34');
      const left = (await api.get('/api/v1/quarantine?entity=lead&limit=1000')).json.items as { recordId: string }[];
      expect(left.some((q) => q.recordId === broken)).toBe(false);
    } finally {
      if (!restored) restore();
    }
  });

  it('lists fields with reasons and adds one with Quick Sync', async () => {
    const plan = await api.get('/api/v1/entities/contact/fields');
    expect(plan.json.excluded).toContainEqual(expect.objectContaining({ field: 'new_creditlimit', reason: 'secured-no-read-privilege' }));
    const before = await api.get('/api/v1/entities/lead/fields');
    expect(before.json.excluded).toContainEqual(expect.objectContaining({ field: 'description', reason: 'not-selected' }));
    const leads = (await api.get('/api/v1/status')).json.entities.find((e: { entity: string }) => e.entity === 'lead').stats.records as number;
    // Through the CLI, which finds the running runner at --url.
    const added = await runCli(['fields', 'add', 'lead', 'description', '--json', '--url', runner.url]);
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ entity: 'lead', field: 'description', backfilled: leads });
    const after = await api.get('/api/v1/entities/lead/fields');
    expect(after.json.synced).toContain('description');
  });

  it('answers crm-sync status through the running runner', async () => {
    const result = await runCli(['status', '--json', '--url', runner.url]);
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout);
    expect(status.source).toContain(runner.url);
    expect(status.lastCycle.ok).toBe(true);
    expect(status.entities.find((e: { entity: string }) => e.entity === 'account').stats.records).toBe(expectedSynced(sim, 'account'));
    const human = await runCli(['status', '--url', runner.url]);
    expect(human.stdout).toMatch(/^account\s+from CRM\s+ok/m);
  });

  it('tells why a field holds its value: through the API and crm-sync why, every step oldest first with its source', async () => {
    // A lead no other test of this file touches.
    const id = await someId('lead', 7);
    const path = `/api/v1/entities/lead/records/${id}/fields/subject/history`;
    const created = (await api.get(`/api/v1/entities/lead/records/${id}`)).json.record.fields.subject;
    expect((await api.patch(`/api/v1/entities/lead/records/${id}`, { fields: { subject: 'Why edit' } })).status).toBe(200);
    expect((await api.post('/api/v1/cycles', { entities: ['lead'] })).status).toBe(200); // pushes it
    expect(sim.control.getRow('lead', id)?.subject).toBe('Why edit');
    const history = await api.get(path);
    expect(history.status).toBe(200);
    expect(history.json).toMatchObject({ entity: 'lead', id, field: 'subject', current: 'Why edit', next: null });
    expect(history.json.steps.map((s: { rule: string; side: string; value: unknown }) => [s.rule, s.side, s.value])).toEqual([
      ['create', 'crm', created],
      ['local-edit', 'local', 'Why edit'],
      ['push', 'local', 'Why edit'],
    ]);
    // Paged: one step a page.
    const first = await api.get(`${path}?limit=1`);
    expect(first.json.steps).toHaveLength(2); // the created value, then the first entry
    const second = await api.get(`${path}?limit=1&after=${first.json.next}`);
    expect(second.json.steps.map((s: { rule: string }) => s.rule)).toEqual(['push']);

    const cli = await runCli(['why', 'lead', id, 'subject', '--json', '--url', runner.url]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).steps).toEqual(history.json.steps);
    const human = await runCli(['why', 'lead', id, 'subject', '--url', runner.url]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`lead ${id} subject = "Why edit"`);
    expect(human.stdout).toMatch(/local edit\s+local\s+"Why edit"/);
    expect(human.stdout).toMatch(/push\s+local\s+"Why edit"\s+sent to the CRM/);
    const unknown = await runCli(['why', 'lead', 'no-such-lead', 'subject', '--url', runner.url]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No lead with id no-such-lead');
    const misspelt = await runCli(['why', 'leads', id, 'subject', '--url', runner.url]);
    expect(misspelt.code).toBe(2);
    expect(misspelt.stderr).toContain('Unknown entity "leads"');
  });

  it('exposes Prometheus metrics', async () => {
    const metrics = await api.get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(metrics.text)?.[1]);
    expect(value('crm_sync_cycles_total{status="ok"}')).toBeGreaterThanOrEqual(3);
    expect(value('crm_sync_records_pulled_total{entity="account"}')).toBeGreaterThanOrEqual(sim.simulator.dataset.counts.account);
    expect(value('crm_sync_records_pushed_total{entity="lead"}')).toBeGreaterThanOrEqual(2);
    expect(value('crm_sync_collisions_total{entity="contact"}')).toBeGreaterThanOrEqual(1);
    expect(value('crm_sync_entity_records{entity="contact"}')).toBe(expectedSynced(sim, 'contact'));
    for (const name of ['crm_sync_quarantined_total', 'crm_sync_crm_throttled_total', 'crm_sync_cycle_duration_seconds_count', 'crm_sync_pending_pushes']) {
      expect(metrics.text).toContain(name);
    }
  });

  it('logs JSON lines on stderr when it is not a terminal', () => {
    const lines = logLines(runner.stderr());
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.every((l) => typeof l.level === 'string' && typeof l.time === 'string' && typeof l.msg === 'string')).toBe(true);
    expect(lines.some((l) => l.msg === 'cycle finished')).toBe(true);
  });
});

describe('bound beyond loopback', () => {
  it('refuses to start without an API token', async () => {
    const config = writeConfig(simulatorConfig(sim, { server: { host: '0.0.0.0', port: 0 } }));
    const result = await runCli(['start', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('refusing to listen on 0.0.0.0 without an API token: set CRM_SYNC_API_TOKEN');
  });

  it('requires the bearer token on every route but /healthz, and stops cleanly on SIGTERM', async () => {
    const token = 'a-long-enough-api-token-for-tests';
    const config = writeConfig(simulatorConfig(sim, { server: { host: '0.0.0.0', port: 0 } }));
    const open = await startRunner(['--config', config], cleanEnv({ CRM_SYNC_API_TOKEN: token }));
    try {
      const anonymous = apiClient(open.url);
      expect((await anonymous.get('/healthz')).status).toBe(200);
      for (const path of ['/api/v1/status', '/openapi.json', '/metrics', '/api/v1/entities/contact/records', '/api/v1/entities/contact/records/x/fields/lastname/history']) {
        const response = await anonymous.get(path);
        expect(response.status, path).toBe(401);
        expect(response.headers.get('www-authenticate')).toContain('Bearer');
      }
      // The dry run and the replay too: neither runs nor retries anything without the token.
      for (const [path, body] of [['/api/v1/cycles', { dryRun: true }], ['/api/v1/quarantine/replay', { entity: 'lead' }]] as const) {
        const response = await anonymous.post(path, body);
        expect(response.status, path).toBe(401);
      }
      expect((await apiClient(open.url, 'wrong-token-of-some-length').get('/api/v1/status')).status).toBe(401);
      expect((await apiClient(open.url, token).get('/api/v1/status')).status).toBe(200);
    } finally {
      const result = await open.stop('SIGTERM');
      expect(result.code).toBe(0);
      expect(logLines(result.stderr).map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping: finishing the page in hand', 'stopped']));
      expect(result.stdout + result.stderr).not.toContain(token);
    }
  });
});
