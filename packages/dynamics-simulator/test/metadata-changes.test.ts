import { describe, expect, it } from 'vitest';
import { createClock } from '../src/index.js';
import { json, startOrg } from './helpers.js';
import type { TestOrg } from './helpers.js';

const QUERY = {
  Criteria: { FilterOperator: 'And', Conditions: [{ PropertyName: 'LogicalName', ConditionOperator: 'In', Value: { Type: 'System.String[]', Value: ['contact', 'account'] } }] },
  Properties: { AllProperties: false, PropertyNames: ['LogicalName', 'Attributes'] },
  AttributeQuery: { Properties: { AllProperties: false, PropertyNames: ['LogicalName', 'AttributeType', 'IsSecured'] } },
};

type Changes = {
  EntityMetadata: Array<{ LogicalName: string; MetadataId: string; HasChanged: boolean | null; Attributes: Array<Record<string, unknown>> }>;
  ServerVersionStamp: string;
  DeletedMetadata: { Count: number; Keys: string[]; Values: string[][] };
};

/** The call as Microsoft's Web API sample sends it: every parameter an alias. */
async function changes(org: TestOrg, stamp?: string, filters = 'All'): Promise<{ status: number; body: Changes }> {
  const params = new URLSearchParams({ '@p1': JSON.stringify(QUERY) });
  let signature = 'Query=@p1';
  if (stamp !== undefined) {
    params.set('@p2', `'${stamp}'`);
    params.set('@p3', `Microsoft.Dynamics.CRM.DeletedMetadataFilters'${filters}'`);
    signature += ',ClientVersionStamp=@p2,DeletedMetadataFilters=@p3';
  }
  const response = await org.api(`RetrieveMetadataChanges(${signature})?${params}`);
  return { status: response.status, body: (await json(response)) as unknown as Changes };
}

const columns = (body: Changes, table: string) => body.EntityMetadata.find((e) => e.LogicalName === table)?.Attributes.map((a) => a.LogicalName) ?? null;

describe('RetrieveMetadataChanges', () => {
  it('answers the whole query first, then only what changed since the stamp: added, retyped, secured, deleted columns', async () => {
    const org = await startOrg();
    const control = org.server.control;
    const full = await changes(org);
    expect(full.status).toBe(200);
    expect(full.body.EntityMetadata.map((e) => e.LogicalName).sort()).toEqual(['account', 'contact']);
    expect(columns(full.body, 'contact')).toContain('jobtitle');
    expect(full.body.ServerVersionStamp).toMatch(/^\d+!\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d$/);

    // Nothing changed: nothing comes back.
    const quiet = await changes(org, full.body.ServerVersionStamp);
    expect(quiet.body.EntityMetadata).toEqual([]);
    expect(quiet.body.DeletedMetadata.Count).toBe(0);

    control.addColumn('contact', { logicalName: 'new_score', type: 'String' });
    control.addColumn('contact', { logicalName: 'new_tier', type: 'String' });
    const before = full.body.EntityMetadata.find((e) => e.LogicalName === 'contact')!.Attributes;
    const jobtitleId = before.find((a) => a.LogicalName === 'jobtitle')!.MetadataId;
    control.removeColumn('contact', 'jobtitle');
    control.setFieldSecurity({ table: 'contact', column: 'new_score', secured: true });
    control.addColumn('lead', { logicalName: 'new_elsewhere', type: 'String' });
    const next = await changes(org, quiet.body.ServerVersionStamp);
    expect(next.body.EntityMetadata.map((e) => e.LogicalName)).toEqual(['contact']);
    const contact = next.body.EntityMetadata[0]!;
    expect(contact.HasChanged).toBe(true);
    expect(contact.Attributes).toEqual([
      { '@odata.type': '#Microsoft.Dynamics.CRM.StringAttributeMetadata', LogicalName: 'new_score', AttributeType: 'String', IsSecured: true, MetadataId: expect.any(String), HasChanged: true },
      { '@odata.type': '#Microsoft.Dynamics.CRM.StringAttributeMetadata', LogicalName: 'new_tier', AttributeType: 'String', IsSecured: false, MetadataId: expect.any(String), HasChanged: true },
    ]);
    expect(next.body.DeletedMetadata).toMatchObject({ Count: 1, Keys: ['Attribute'], Values: [[jobtitleId]] });
    // Without 'Attribute' among the filters, deleted columns are not listed.
    expect((await changes(org, quiet.body.ServerVersionStamp, 'Entity')).body.DeletedMetadata.Count).toBe(0);
    // A deleted column is gone from reads too.
    expect((await org.api('contacts?$select=jobtitle&$top=1')).status).toBe(400);

    // A type change: the old definition deleted, a new one (new MetadataId) under the same name.
    const tierId = contact.Attributes.find((a) => a.LogicalName === 'new_tier')!.MetadataId;
    const retyped = await org.control('columns/contact/new_tier', { method: 'PUT', body: JSON.stringify({ type: 'Integer' }) });
    expect(retyped.status).toBe(200);
    const after = await changes(org, next.body.ServerVersionStamp);
    expect(after.body.DeletedMetadata.Values).toEqual([[tierId]]);
    const tier = after.body.EntityMetadata[0]!.Attributes[0]!;
    expect(tier).toMatchObject({ LogicalName: 'new_tier', AttributeType: 'Integer' });
    expect(tier.MetadataId).not.toBe(tierId);
    // System columns keep their type.
    expect((await org.control('columns/contact/lastname', { method: 'PUT', body: JSON.stringify({ type: 'Integer' }) })).status).toBe(400);
    expect((await org.control('columns/contact/contactid', { method: 'DELETE' })).status).toBe(400);
  });

  it('refuses a stamp it never issued and an expired one, with the SDK code for an expired stamp', async () => {
    const clock = createClock({ start: '2026-01-01T00:00:00Z', manual: true });
    const org = await startOrg({ clock });
    const { body } = await changes(org);
    const unknown = await changes(org, '999999!01/01/2026 00:00:00');
    expect(unknown.status).toBe(400);
    clock.advance(91 * 86_400_000);
    const expired = await org.api(
      `RetrieveMetadataChanges(Query=@p1,ClientVersionStamp=@p2)?${new URLSearchParams({ '@p1': JSON.stringify(QUERY), '@p2': `'${body.ServerVersionStamp}'` })}`,
    );
    expect(expired.status).toBe(400);
    expect(await expired.json()).toEqual({ error: { code: '0x80044352', message: 'Version stamp associated with the client has expired. Please perform a full sync.' } });
  });
});
