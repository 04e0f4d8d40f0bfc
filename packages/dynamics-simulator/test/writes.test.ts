import { describe, expect, it } from 'vitest';
import { GUID, json, startOrg } from './helpers.js';

const jsonBody = (body: unknown): RequestInit => ({ body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });

describe('writes', () => {
  it('POST creates a row: 204 with OData-EntityId, and the row carries modifiedby = caller and a new version', async () => {
    const org = await startOrg();
    const response = await org.api('leads', { method: 'POST', ...jsonBody({ firstname: 'Ada', lastname: 'Lovelace', leadsourcecode: 8 }) });
    expect(response.status).toBe(204);
    const entityId = response.headers.get('odata-entityid')!;
    expect(entityId).toMatch(new RegExp(`^${org.server.webApiUrl.replace(/[.]/g, '\\.')}leads\\([0-9a-f-]{36}\\)$`));
    const id = /\(([^)]+)\)$/.exec(entityId)![1]!;
    const row = await json(await org.api(`leads(${id})?$select=fullname,_modifiedby_value,_ownerid_value,statecode,versionnumber`));
    expect(row).toMatchObject({ fullname: 'Ada Lovelace', _modifiedby_value: org.server.simulator.users.sync.id, _ownerid_value: org.server.simulator.users.sync.id, statecode: 0 });
    expect(row['@odata.etag']).toBe(`W/"${String(row.versionnumber)}"`);
  });

  it('POST with Prefer: return=representation answers 201 with the row', async () => {
    const org = await startOrg();
    const response = await org.api('accounts?$select=name', {
      method: 'POST',
      body: JSON.stringify({ name: 'Represented Inc.' }),
      headers: { 'Content-Type': 'application/json', Prefer: 'return=representation' },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('preference-applied')).toBe('return=representation');
    const body = await json(response);
    expect(body).toMatchObject({ name: 'Represented Inc.' });
    expect(body.accountid).toMatch(GUID);
    expect(body['@odata.context']).toMatch(/\$metadata#accounts\(name\)\/\$entity$/);
  });

  it('PATCH updates with a matching If-Match and bumps the etag; a stale etag gets 412 with the documented message', async () => {
    const org = await startOrg();
    const id = org.server.simulator.dataset.idOf('contact', 5);
    const etag = (await json(await org.api(`contacts(${id})?$select=jobtitle`)))['@odata.etag'] as string;
    const ok = await org.api(`contacts(${id})`, { method: 'PATCH', body: JSON.stringify({ jobtitle: 'Buyer' }), headers: { 'Content-Type': 'application/json', 'If-Match': etag } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('odata-entityid')).toBe(`${org.server.webApiUrl}contacts(${id})`);
    const after = await json(await org.api(`contacts(${id})?$select=jobtitle,modifiedon`));
    expect(after['@odata.etag']).not.toBe(etag);
    expect(after.jobtitle).toBe('Buyer');
    const stale = await org.api(`contacts(${id})`, { method: 'PATCH', body: JSON.stringify({ jobtitle: 'CFO' }), headers: { 'Content-Type': 'application/json', 'If-Match': etag } });
    expect(stale.status).toBe(412);
    expect(await stale.json()).toEqual({ error: { code: '0x80060882', message: "The version of the existing record doesn't match the RowVersion property provided." } });
  });

  it('PATCH is an upsert: creates the row with the given id; If-Match: * makes it update-only (404); If-None-Match: * create-only (412)', async () => {
    const org = await startOrg();
    const newId = '5a0c6c1e-7d4e-4b8e-9a51-0f2b8c3d4e5f';
    const updateOnly = await org.api(`accounts(${newId})`, { method: 'PATCH', body: JSON.stringify({ name: 'X' }), headers: { 'Content-Type': 'application/json', 'If-Match': '*' } });
    expect(updateOnly.status).toBe(404);
    expect(await updateOnly.json()).toEqual({ error: { code: '0x80040217', message: `account With Id = ${newId} Does Not Exist` } });
    const created = await org.api(`accounts(${newId})`, { method: 'PATCH', ...jsonBody({ name: 'Upserted Ltd.' }) });
    expect(created.status).toBe(204);
    expect((await json(await org.api(`accounts(${newId})?$select=name`))).name).toBe('Upserted Ltd.');
    const createOnly = await org.api(`accounts(${newId})`, { method: 'PATCH', body: JSON.stringify({ name: 'Y' }), headers: { 'Content-Type': 'application/json', 'If-None-Match': '*' } });
    expect(createOnly.status).toBe(412);
    expect(await createOnly.json()).toEqual({ error: { code: '0x80040237', message: 'A record with matching key values already exists.' } });
  });

  it('PATCH with return=representation answers 200 with the updated row', async () => {
    const org = await startOrg();
    const id = org.server.simulator.dataset.idOf('account', 3);
    const response = await org.api(`accounts(${id})?$select=name`, {
      method: 'PATCH',
      body: JSON.stringify({ name: 'New Name' }),
      headers: { 'Content-Type': 'application/json', Prefer: 'return=representation' },
    });
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({ accountid: id, name: 'New Name' });
  });

  it('DELETE removes a row; with a stale If-Match it gets 412; a missing row gets 404', async () => {
    const org = await startOrg();
    const id = org.server.simulator.dataset.idOf('lead', 4);
    const stale = await org.api(`leads(${id})`, { method: 'DELETE', headers: { 'If-Match': 'W/"1"' } });
    expect(stale.status).toBe(412);
    expect((await org.api(`leads(${id})`, { method: 'DELETE' })).status).toBe(204);
    expect((await org.api(`leads(${id})`)).status).toBe(404);
    expect((await org.api(`leads(${id})`, { method: 'DELETE' })).status).toBe(404);
  });

  it('binds lookups with <navprop>@odata.bind and rejects the lookup logical name with 0x80048d19', async () => {
    const org = await startOrg();
    const account = org.server.simulator.dataset.idOf('account', 9);
    const response = await org.api('contacts', { method: 'POST', ...jsonBody({ lastname: 'Bound', 'parentcustomerid_account@odata.bind': `/accounts(${account})` }) });
    expect(response.status).toBe(204);
    const id = /\(([^)]+)\)$/.exec(response.headers.get('odata-entityid')!)![1]!;
    const row = await json(await org.api(`contacts(${id})?$select=_parentcustomerid_value`, { headers: { Prefer: 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"' } }));
    expect(row._parentcustomerid_value).toBe(account);
    expect(row['_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname']).toBe('account');
    const wrong = await org.api('contacts', { method: 'POST', ...jsonBody({ lastname: 'Bad', 'parentcustomerid@odata.bind': `/accounts(${account})` }) });
    expect(wrong.status).toBe(400);
    const error = ((await wrong.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('0x80048d19');
    expect(error.message).toMatch(/^Error identified in Payload provided by the user for Entity :'contacts'/);
    const custom = await org.api('new_memberships', { method: 'POST', ...jsonBody({ new_name: 'M-1', 'new_ContactId@odata.bind': `/contacts(${id})` }) });
    expect(custom.status).toBe(204);
  });

  it('rejects unknown columns and values of the wrong type or too long with 400', async () => {
    const org = await startOrg();
    const unknown = await org.api('accounts', { method: 'POST', ...jsonBody({ name: 'A', nosuchcolumn: 1 }) });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain("The property 'nosuchcolumn' does not exist on type 'Microsoft.Dynamics.CRM.account'");
    for (const body of [{ numberofemployees: 'many' }, { numberofemployees: 1.5 }, { new_synctomkto: 'yes' }, { revenue: '1000' }, { name: 42 }, { industrycode: 99999 }]) {
      const response = await org.api('accounts', { method: 'POST', ...jsonBody({ name: 'Typed', ...body }) });
      expect(response.status, JSON.stringify(body)).toBe(400);
      const error = ((await response.json()) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('0x80044331');
      expect(error.message).toMatch(/^A validation error occurred\. {2}/);
    }
    const tooLong = await org.api('accounts', { method: 'POST', ...jsonBody({ name: 'x'.repeat(161) }) });
    expect(((await tooLong.json()) as { error: { message: string } }).error.message).toBe(
      "A validation error occurred.  The length of the 'name' attribute of the 'account' entity exceeded the maximum allowed length of '160'.",
    );
  });

  it('rejects writing a column that is not valid for update, and a secured column without update privilege, with 403', async () => {
    const org = await startOrg();
    const id = org.server.simulator.dataset.idOf('contact', 1);
    const readOnly = await org.api(`contacts(${id})`, { method: 'PATCH', ...jsonBody({ fullname: 'Computed Name' }) });
    expect(readOnly.status).toBe(403);
    const secured = await org.api(`contacts(${id})`, { method: 'PATCH', ...jsonBody({ new_riskscore: 5 }) });
    expect(secured.status).toBe(403);
    expect(await secured.json()).toEqual({
      error: { code: '0x8004F507', message: "The user doesn't have AttributePrivilegeUpdate and not granted shared access for a secured attribute during update operation" },
    });
    const asAdmin = await org.api(`contacts(${id})`, { method: 'PATCH', token: org.server.simulator.tokens.admin, ...jsonBody({ new_riskscore: 5 }) });
    expect(asAdmin.status).toBe(204);
  });

  it('writes by another CRM user through the control API show that user as modifiedby', async () => {
    const org = await startOrg();
    const { control, dataset, users } = org.server.simulator;
    const id = dataset.idOf('contact', 2);
    const staff = users.staff[1]!;
    control.updateRow('contact', id, { telephone1: '+1 555 0100' }, { asUser: staff.id });
    const row = await json(await org.api(`contacts(${id})?$select=telephone1,_modifiedby_value`));
    expect(row).toMatchObject({ telephone1: '+1 555 0100', _modifiedby_value: staff.id });
  });
});
