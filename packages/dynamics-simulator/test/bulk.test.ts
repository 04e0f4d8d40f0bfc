import { describe, expect, it } from 'vitest';
import { GUID, json, startOrg } from './helpers.js';
import type { TestOrg } from './helpers.js';

const post = (org: TestOrg, path: string, body: unknown) =>
  org.api(path, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json; charset=utf-8' } });
const contact = (fields: Record<string, unknown>) => ({ '@odata.type': 'Microsoft.Dynamics.CRM.contact', ...fields });
const ids = ['1b8e0a4c-0000-4000-8000-000000000001', '1b8e0a4c-0000-4000-8000-000000000002', '1b8e0a4c-0000-4000-8000-000000000003'];

describe('bulk operation messages', () => {
  it('sdkmessagefilters answers the documented availability query, with parameter aliases, per table', async () => {
    const org = await startOrg({ bulkMessages: { unsupported: ['lead'] } });
    const query = (message: string, table: string) =>
      org.api(`sdkmessagefilters?$select=sdkmessagefilterid&$filter=sdkmessageid/name eq @message and primaryobjecttypecode eq @table&@message='${message}'&@table='${table}'`);
    const supported = await json(await query('CreateMultiple', 'contact'));
    expect(supported.value).toHaveLength(1);
    expect(supported.value![0]!.sdkmessagefilterid).toMatch(GUID);
    expect(supported['@odata.context']).toMatch(/\$metadata#sdkmessagefilters\(sdkmessagefilterid\)$/);
    expect((await json(await query('UpdateMultiple', 'account'))).value).toHaveLength(1);
    expect((await json(await query('CreateMultiple', 'lead'))).value).toEqual([]);
    const inline = await json(await org.api(`sdkmessagefilters?$select=sdkmessagefilterid,primaryobjecttypecode&$filter=sdkmessageid/name eq 'UpdateMultiple' and primaryobjecttypecode eq 'contact'`));
    expect(inline.value).toEqual([expect.objectContaining({ primaryobjecttypecode: 'contact' })]);
    // Support changes at run time (a test or the demo).
    org.server.simulator.bulkMessages.setSupport('contact', false);
    expect((await json(await query('CreateMultiple', 'contact'))).value).toEqual([]);
    const bad = await org.api(`sdkmessagefilters?$filter=name eq 'x'`);
    expect(bad.status).toBe(400);
    expect((await json(bad)).error).toMatchObject({ message: expect.stringContaining("sdkmessageid/name eq '<message>'") });
  });

  it('CreateMultiple creates every target with its client id in one request, answering the Ids; execution time is charged per record', async () => {
    const org = await startOrg();
    const before = org.server.control.requestLog().length;
    const response = await post(org, 'contacts/Microsoft.Dynamics.CRM.CreateMultiple', {
      Targets: ids.map((contactid, i) => contact({ contactid, firstname: `Bulk${i}`, lastname: 'Created' })),
    });
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body.Ids).toEqual(ids);
    expect(body['@odata.context']).toMatch(/\$metadata#Microsoft\.Dynamics\.CRM\.CreateMultipleResponse$/);
    for (const [i, id] of ids.entries()) {
      const row = await json(await org.api(`contacts(${id})?$select=firstname,_modifiedby_value`));
      expect(row).toMatchObject({ firstname: `Bulk${i}`, _modifiedby_value: org.server.simulator.users.sync.id });
    }
    const entry = org.server.control.requestLog()[before]!;
    expect(entry.url).toContain('CreateMultiple');
    // One request; the documented default cost: base 10 ms once, 25 ms per record written.
    expect(entry.executionMs).toBe(10 + 25 * ids.length);
  });

  it('is all or nothing: one bad target fails the request with its error and nothing is written', async () => {
    const org = await startOrg();
    const response = await post(org, 'contacts/Microsoft.Dynamics.CRM.CreateMultiple', {
      Targets: [contact({ contactid: ids[0], lastname: 'Good' }), contact({ contactid: ids[1], lastname: 'x'.repeat(500) }), contact({ contactid: ids[2], lastname: 'Good too' })],
    });
    expect(response.status).toBe(400);
    expect((await json(response)).error).toMatchObject({ code: '0x80044331', message: expect.stringContaining("'lastname'") });
    for (const id of ids) expect((await org.api(`contacts(${id})`)).status).toBe(404);

    const existing = [org.server.simulator.dataset.idOf('contact', 1), org.server.simulator.dataset.idOf('contact', 2)];
    const versions = await Promise.all(existing.map(async (id) => (await json(await org.api(`contacts(${id})?$select=jobtitle`)))['@odata.etag']));
    const update = await post(org, 'contacts/Microsoft.Dynamics.CRM.UpdateMultiple', {
      Targets: [contact({ contactid: existing[0], jobtitle: 'Changed' }), contact({ contactid: ids[2], jobtitle: 'Nobody' }), contact({ contactid: existing[1], jobtitle: 'Changed' })],
    });
    expect(update.status).toBe(404);
    expect((await json(update)).error).toMatchObject({ message: `Contact With Ids = ${ids[2]} Do Not Exist` });
    const after = await Promise.all(existing.map(async (id) => (await json(await org.api(`contacts(${id})?$select=jobtitle`)))['@odata.etag']));
    expect(after).toEqual(versions);
  });

  it('UpdateMultiple writes every target and answers 204; a duplicate create id fails the whole CreateMultiple (412)', async () => {
    const org = await startOrg();
    const existing = [3, 4, 5].map((i) => org.server.simulator.dataset.idOf('contact', i));
    const response = await post(org, 'contacts/Microsoft.Dynamics.CRM.UpdateMultiple', { Targets: existing.map((contactid) => contact({ contactid, jobtitle: 'Bulk buyer' })) });
    expect(response.status).toBe(204);
    for (const id of existing) expect((await json(await org.api(`contacts(${id})?$select=jobtitle`))).jobtitle).toBe('Bulk buyer');
    const duplicate = await post(org, 'contacts/Microsoft.Dynamics.CRM.CreateMultiple', { Targets: [contact({ contactid: ids[0], lastname: 'New' }), contact({ contactid: existing[0], lastname: 'Taken' })] });
    expect(duplicate.status).toBe(412);
    expect((await org.api(`contacts(${ids[0]})`)).status).toBe(404);
  });

  it('refuses a table without the messages, a target without @odata.type, and an empty Targets', async () => {
    const org = await startOrg({ bulkMessages: { unsupported: ['lead'] } });
    const unsupported = await post(org, 'leads/Microsoft.Dynamics.CRM.CreateMultiple', { Targets: [{ '@odata.type': 'Microsoft.Dynamics.CRM.lead', lastname: 'X' }] });
    expect(unsupported.status).toBe(400);
    expect((await json(unsupported)).error).toMatchObject({ message: "The 'CreateMultiple' message is not supported for the 'lead' entity." });
    const untyped = await post(org, 'contacts/Microsoft.Dynamics.CRM.CreateMultiple', { Targets: [{ lastname: 'X' }] });
    expect(untyped.status).toBe(400);
    expect((await json(untyped)).error).toMatchObject({ message: expect.stringContaining('@odata.type') });
    const empty = await post(org, 'contacts/Microsoft.Dynamics.CRM.UpdateMultiple', { Targets: [] });
    expect(empty.status).toBe(400);
    expect(org.server.simulator.org.size('lead')).toBeGreaterThan(0);
  });

  it('two bulk requests in flight on the same record: the second fails with the SQL deadlock error, nothing of it written', async () => {
    // Answers held for their execution time (100 ms per record), so the first is still running when the second comes.
    const org = await startOrg({ limits: { enabled: true, holdAnswers: true, cost: { baseMs: 0, perWriteMs: 100 } } });
    const [a, b, c] = [6, 7, 8].map((i) => org.server.simulator.dataset.idOf('contact', i));
    const first = post(org, 'contacts/Microsoft.Dynamics.CRM.UpdateMultiple', { Targets: [contact({ contactid: a, jobtitle: 'First' }), contact({ contactid: b, jobtitle: 'First' })] });
    await new Promise((resolve) => setTimeout(resolve, 60));
    const second = await post(org, 'contacts/Microsoft.Dynamics.CRM.UpdateMultiple', { Targets: [contact({ contactid: b, jobtitle: 'Second' }), contact({ contactid: c, jobtitle: 'Second' })] });
    expect(second.status).toBe(500);
    expect((await json(second)).error).toMatchObject({ code: '0x80044150', message: expect.stringContaining('Sql Number: 1205') });
    expect((await first).status).toBe(204);
    expect(org.server.simulator.bulkMessages.deadlocks()).toBe(1);
    expect((await json(await org.api(`contacts(${b})?$select=jobtitle`))).jobtitle).toBe('First');
    expect((await json(await org.api(`contacts(${c})?$select=jobtitle`))).jobtitle).not.toBe('Second');
    // Once the first has answered, the same record may be written again.
    const third = await post(org, 'contacts/Microsoft.Dynamics.CRM.UpdateMultiple', { Targets: [contact({ contactid: b, jobtitle: 'Third' })] });
    expect(third.status).toBe(204);
  });

  it('answers rows asked for by id (`<key> eq a or <key> eq b`), created ones included, in natural order', async () => {
    const org = await startOrg();
    await post(org, 'contacts/Microsoft.Dynamics.CRM.CreateMultiple', { Targets: [contact({ contactid: ids[0], lastname: 'New' })] });
    const wanted = [org.server.simulator.dataset.idOf('contact', 150), ids[0]!, org.server.simulator.dataset.idOf('contact', 9), ids[1]!];
    const filter = wanted.map((id) => `contactid eq ${id}`).join(' or ');
    const body = await json(await org.api(`contacts?$select=contactid&$filter=${filter}`));
    expect(body.value!.map((row) => row.contactid)).toEqual([wanted[2], wanted[0], ids[0]]);
    const mixed = await json(await org.api(`contacts?$select=contactid&$filter=contactid eq ${wanted[0]} or lastname eq 'New'`));
    expect(mixed.value!.map((row) => row.contactid).sort()).toEqual([wanted[0], ids[0]].sort());
  });
});
