import { describe, expect, it } from 'vitest';
import { json, startOrg } from './helpers.js';

describe('metadata and field security', () => {
  it('describes a table: EntitySetName, primary attributes, change tracking; no paging', async () => {
    const org = await startOrg();
    const response = await org.api("EntityDefinitions(LogicalName='opportunity')?$select=LogicalName,EntitySetName,PrimaryIdAttribute,ChangeTrackingEnabled");
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body).toMatchObject({ LogicalName: 'opportunity', EntitySetName: 'opportunities', PrimaryIdAttribute: 'opportunityid', ChangeTrackingEnabled: true });
    expect(body.MetadataId).toBeDefined();
    expect(body['@odata.context']).toMatch(/\$metadata#EntityDefinitions\(LogicalName,EntitySetName,PrimaryIdAttribute,ChangeTrackingEnabled\)\/\$entity$/);
    const all = await json(await org.api('EntityDefinitions?$select=LogicalName,IsCustomEntity&$filter=ChangeTrackingEnabled eq true', { headers: { Prefer: 'odata.maxpagesize=2' } }));
    expect(all.value!.map((entity) => entity.LogicalName)).toEqual(['account', 'contact', 'lead', 'systemuser', 'team', 'opportunity', 'new_membership']);
    expect(all['@odata.nextLink']).toBeUndefined();
    expect(all.value!.find((entity) => entity.LogicalName === 'new_membership')!.IsCustomEntity).toBe(true);
  });

  it('lists columns with LogicalName, AttributeType, IsCustomAttribute, IsValidForRead, IsValidForUpdate, IsSecured', async () => {
    const org = await startOrg();
    const body = await json(await org.api("EntityDefinitions(LogicalName='contact')/Attributes?$select=LogicalName,AttributeType,IsCustomAttribute,IsValidForRead,IsValidForUpdate,IsSecured"));
    const byName = new Map(body.value!.map((attribute) => [attribute.LogicalName, attribute]));
    expect(byName.get('new_creditlimit')).toMatchObject({ AttributeType: 'Money', IsCustomAttribute: true, IsSecured: true, IsValidForRead: true });
    expect(byName.get('parentcustomerid')).toMatchObject({ AttributeType: 'Customer', IsSecured: false });
    expect(byName.get('fullname')).toMatchObject({ IsValidForUpdate: false });
    expect(byName.get('new_synctomkto')).toMatchObject({ AttributeType: 'Boolean', IsCustomAttribute: true });
    expect(byName.get('firstname')!['@odata.type']).toBe('#Microsoft.Dynamics.CRM.StringAttributeMetadata');
    const secured = await json(await org.api("EntityDefinitions(LogicalName='contact')/Attributes?$select=LogicalName&$filter=IsSecured eq true"));
    expect(secured.value!.map((attribute) => attribute.LogicalName).sort()).toEqual(['new_creditlimit', 'new_riskscore']);
    const picklists = await json(
      await org.api("EntityDefinitions(LogicalName='lead')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet"),
    );
    const source = picklists.value!.find((attribute) => attribute.LogicalName === 'leadsourcecode')!;
    expect((source.OptionSet as { Options: unknown[] }).Options).toContainEqual(expect.objectContaining({ Value: 8 }));
    const byType = await json(await org.api("EntityDefinitions(LogicalName='lead')/Attributes?$select=LogicalName&$filter=AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'"));
    expect(byType.value!.map((attribute) => attribute.LogicalName)).toEqual(['leadsourcecode']);
  });

  it('returns a secured column the caller may not read as null, with no error, and the real value to an administrator', async () => {
    const org = await startOrg();
    const rows = await json(await org.api('contacts?$select=new_creditlimit,new_riskscore&$filter=new_creditlimit ne null'));
    // The filter cannot see hidden values either, so nothing matches for the sync user.
    expect(rows.value).toEqual([]);
    const all = await json(await org.api('contacts?$select=new_creditlimit,new_riskscore'));
    expect(all.value).toHaveLength(org.server.simulator.dataset.counts.contact);
    expect(all.value!.every((row) => row.new_creditlimit === null)).toBe(true);
    expect(all.value!.some((row) => typeof row.new_riskscore === 'number')).toBe(true);
    const admin = await json(await org.api('contacts?$select=new_creditlimit', { token: org.server.simulator.tokens.admin }));
    expect(admin.value!.some((row) => typeof row.new_creditlimit === 'number')).toBe(true);
  });

  it('reports field privileges with RetrievePrincipalAttributePrivileges (AttributeId = column MetadataId, 0/4 flags)', async () => {
    const org = await startOrg();
    const { users } = org.server.simulator;
    const response = await org.api(`systemusers(${users.sync.id})/Microsoft.Dynamics.CRM.RetrievePrincipalAttributePrivileges()`);
    expect(response.status).toBe(200);
    const body = await json(response);
    const attributes = await json(await org.api("EntityDefinitions(LogicalName='contact')/Attributes?$select=LogicalName"));
    const riskId = attributes.value!.find((attribute) => attribute.LogicalName === 'new_riskscore')!.MetadataId;
    expect(body.AttributePrivileges).toEqual([{ AttributeId: riskId, CanCreate: 0, CanRead: 4, CanUpdate: 0 }]);
  });

  it('applies field security changed at run time', async () => {
    const org = await startOrg();
    const { users, dataset } = org.server.simulator;
    const id = dataset.idOf('contact', 0);
    const before = await json(await org.api(`contacts(${id})?$select=jobtitle`));
    expect(before.jobtitle).not.toBeNull();
    const secure = await org.control('field-security', { method: 'PUT', body: JSON.stringify({ table: 'contact', column: 'new_creditlimit', userId: users.sync.id, canRead: true }) });
    expect(secure.status).toBe(204);
    const admin = await json(await org.api(`contacts?$select=new_creditlimit`, { token: org.server.simulator.tokens.admin }));
    const sync = await json(await org.api(`contacts?$select=new_creditlimit`));
    expect(sync.value!.map((row) => row.new_creditlimit)).toEqual(admin.value!.map((row) => row.new_creditlimit));
    // System columns cannot be secured.
    const refused = await org.control('field-security', { method: 'PUT', body: JSON.stringify({ table: 'contact', column: 'jobtitle', secured: true }) });
    expect(refused.status).toBe(400);
  });

  it('hides rows a user may not read: absent from queries, 403 by id', async () => {
    const org = await startOrg();
    const { control, users, dataset } = org.server.simulator;
    control.setRowFilter(users.sync.id, 'account', 'numberofemployees gt 2500');
    const rows = await json(await org.api('accounts?$select=numberofemployees'));
    expect(rows.value!.length).toBeGreaterThan(0);
    expect(rows.value!.every((row) => (row.numberofemployees as number) <= 2500)).toBe(true);
    const admin = await json(await org.api('accounts?$select=numberofemployees', { token: org.server.simulator.tokens.admin }));
    expect(rows.value!.map((row) => row.accountid)).toEqual(admin.value!.filter((row) => (row.numberofemployees as number) <= 2500).map((row) => row.accountid));
    expect(admin.value!.length).toBeGreaterThan(rows.value!.length);
    const hidden = admin.value!.find((row) => (row.numberofemployees as number) > 2500)!;
    const byId = await org.api(`accounts(${String(hidden.accountid)})`);
    expect(byId.status).toBe(403);
    expect(dataset.indexOf('account', String(hidden.accountid))).toBeDefined();
  });

  it('serves a column added at run time in metadata and rows (null for existing rows)', async () => {
    const org = await startOrg();
    const added = await org.control('columns/contact', { method: 'POST', body: JSON.stringify({ logicalName: 'new_shoesize', type: 'Integer' }) });
    expect(added.status).toBe(201);
    const attribute = await json(await org.api("EntityDefinitions(LogicalName='contact')/Attributes(LogicalName='new_shoesize')?$select=LogicalName,AttributeType,IsCustomAttribute"));
    expect(attribute).toMatchObject({ LogicalName: 'new_shoesize', AttributeType: 'Integer', IsCustomAttribute: true });
    const rows = await json(await org.api('contacts?$select=new_shoesize&$top=2'));
    expect(rows.value!.map((row) => row.new_shoesize)).toEqual([null, null]);
    const id = org.server.simulator.dataset.idOf('contact', 0);
    expect((await org.api(`contacts(${id})`, { method: 'PATCH', body: JSON.stringify({ new_shoesize: 44 }), headers: { 'Content-Type': 'application/json' } })).status).toBe(204);
    expect((await json(await org.api(`contacts(${id})?$select=new_shoesize`))).new_shoesize).toBe(44);
  });
});
