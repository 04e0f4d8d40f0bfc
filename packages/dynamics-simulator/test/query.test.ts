import { describe, expect, it } from 'vitest';
import { GUID, json, startOrg } from './helpers.js';

describe('entity set queries', () => {
  it('returns rows with OData headers, @odata.context, weak etags and the primary key even when not selected', async () => {
    const { api } = await startOrg();
    const response = await api('accounts?$select=name&$top=3');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; odata.metadata=minimal');
    expect(response.headers.get('odata-version')).toBe('4.0');
    const body = await json(response);
    expect(body['@odata.context']).toMatch(/\/api\/data\/v9\.2\/\$metadata#accounts\(name\)$/);
    expect(body.value).toHaveLength(3);
    for (const row of body.value!) {
      expect(Object.keys(row).sort()).toEqual(['@odata.etag', 'accountid', 'name']);
      expect(row['@odata.etag']).toMatch(/^W\/"\d+"$/);
      expect(row.accountid).toMatch(GUID);
    }
    expect(body['@odata.nextLink']).toBeUndefined();
  });

  it('returns every readable column without $select, lookups as _x_value', async () => {
    const { api } = await startOrg();
    const body = await json(await api('contacts?$top=1'));
    const row = body.value![0]!;
    expect(row).toHaveProperty('fullname');
    expect(row).toHaveProperty('_parentcustomerid_value');
    expect(row).toHaveProperty('_ownerid_value');
    expect(row).toHaveProperty('_modifiedby_value');
    expect(row).toHaveProperty('versionnumber');
    expect(row).not.toHaveProperty('parentcustomerid');
    expect(row.modifiedon).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(row['@odata.etag']).toBe(`W/"${String(row.versionnumber)}"`);
  });

  it('adds _transactioncurrencyid_value when a money column is selected', async () => {
    const { api } = await startOrg();
    const body = await json(await api('opportunities?$select=name,estimatedvalue&$top=1'));
    expect(Object.keys(body.value![0]!).sort()).toEqual(['@odata.etag', '_transactioncurrencyid_value', 'estimatedvalue', 'name', 'opportunityid']);
  });

  it('uses entity set names from metadata (opportunities, new_memberships)', async () => {
    const { api } = await startOrg();
    expect((await api('opportunities?$top=1')).status).toBe(200);
    expect((await api('new_memberships?$top=1')).status).toBe(200);
    const wrong = await api('opportunitys');
    expect(wrong.status).toBe(404);
    expect(await wrong.json()).toEqual({ error: { code: '0x8006088a', message: "Resource not found for the segment 'opportunitys'." } });
  });

  it('answers an unknown entity set (case-sensitive) with 404 in the documented shape', async () => {
    const { api } = await startOrg();
    const response = await api('Accounts');
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: '0x8006088a', message: "Resource not found for the segment 'Accounts'." } });
  });

  it('answers an unknown column (names are case-sensitive) with 400 and the documented message', async () => {
    const { api } = await startOrg();
    for (const query of ['accounts?$select=Name', "accounts?$filter=Name eq 'x'", 'accounts?$orderby=Name']) {
      const response = await api(query);
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({
        error: { code: '0x0', message: "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.account'." },
      });
    }
  });

  it('filters with eq/ne/gt/ge/lt/le, and/or, strings (case-insensitive), numbers, dates, guids and null', async () => {
    const { api, server } = await startOrg();
    const account = server.simulator.dataset.row('account', 3);
    const byName = await json(await api(`accounts?$select=name&$filter=name eq '${String(account.name).toUpperCase().replace(/'/g, "''")}'`));
    expect(byName.value!.map((row) => row.name)).toContain(account.name);
    const id = String(account.accountid);
    const contacts = await json(await api(`contacts?$select=fullname,_parentcustomerid_value&$filter=_parentcustomerid_value eq ${id}`));
    expect(contacts.value!.length).toBeGreaterThan(0);
    expect(contacts.value!.every((row) => row._parentcustomerid_value === id)).toBe(true);
    const { dataset } = server.simulator;
    const generated = (table: 'account' | 'contact') => Array.from({ length: dataset.counts[table] }, (_, i) => dataset.row(table, i));
    const big = await json(await api('accounts?$select=numberofemployees&$filter=numberofemployees ge 2500 and numberofemployees lt 3000'));
    const bigExpected = generated('account').filter((row) => (row.numberofemployees as number) >= 2500 && (row.numberofemployees as number) < 3000);
    expect(bigExpected.length).toBeGreaterThan(0);
    expect(big.value!.map((row) => [row.accountid, row.numberofemployees]).sort()).toEqual(bigExpected.map((row) => [row.accountid, row.numberofemployees]).sort());
    const recent = await json(await api('accounts?$select=modifiedon&$filter=modifiedon gt 2024-06-01T00:00:00Z'));
    expect(recent.value!.length).toBeGreaterThan(0);
    expect(recent.value!.every((row) => Date.parse(row.modifiedon as string) > Date.parse('2024-06-01T00:00:00Z'))).toBe(true);
    const noParent = await json(await api('contacts?$select=_parentcustomerid_value&$filter=_parentcustomerid_value eq null'));
    const noParentExpected = generated('contact').filter((row) => row.parentcustomerid === null);
    expect(noParentExpected.length).toBeGreaterThan(0);
    expect(noParent.value!.map((row) => [row.contactid, row._parentcustomerid_value]).sort()).toEqual(noParentExpected.map((row) => [row.contactid, null]).sort());
    const either = await json(await api('leads?$select=statecode&$filter=statecode eq 1 or statecode eq 2'));
    expect(either.value!.length).toBeGreaterThan(0);
    expect(either.value!.every((row) => row.statecode === 1 || row.statecode === 2)).toBe(true);
    const notOpen = await json(await api('leads?$select=statecode&$filter=statecode ne 0'));
    expect(notOpen.value!.map((row) => row.statecode).sort()).toEqual(either.value!.map((row) => row.statecode).sort());
  });

  it('rejects a guid compared with a string, and bad syntax, with 400', async () => {
    const { api } = await startOrg();
    const mismatch = await api("contacts?$filter=_parentcustomerid_value eq '00000000-0000-0000-0000-000000000000'");
    expect(mismatch.status).toBe(400);
    expect(((await mismatch.json()) as { error: { message: string } }).error.message).toBe(
      "A binary operator with incompatible types was detected. Found operand types 'Edm.Guid' and 'Edm.String' for operator kind 'Equal'.",
    );
    const syntax = await api('accounts?$filter=name eq');
    expect(syntax.status).toBe(400);
    expect(((await syntax.json()) as { error: { code: string } }).error.code).toBe('0x0');
  });

  it('seeks to a primary-key range (ge/gt/le/lt/eq with $orderby=<key> asc and $top) instead of scanning from row 0, with the same rows as a scan', async () => {
    const { api, server } = await startOrg({ contacts: 20_000, largeAccounts: [] });
    const { org, dataset } = server.simulator;
    const id = (i: number): string => dataset.idOf('contact', i);
    // Rows created at run time come after the generated ones, whatever their ids: one sorts before every generated id, one after.
    server.control.insertRow('contact', { lastname: 'Before' }, { id: '00000000-0000-4000-8000-000000000001' });
    server.control.insertRow('contact', { lastname: 'After' }, { id: `${id(0).slice(0, 24)}ffffffffffff` });
    server.control.deleteRow('contact', id(15_005));
    const all: string[] = [];
    let next: string | undefined = 'contacts?$select=contactid';
    while (next) {
      const body = await json(await api(next.replace(/^.*\/api\/data\/v9\.2\//, ''), { headers: { Prefer: 'odata.maxpagesize=5000' } }));
      all.push(...body.value!.map((row) => String(row.contactid)));
      next = body['@odata.nextLink'] as string | undefined;
    }
    expect(all).toHaveLength(20_001);
    let visited = 0;
    const rowAt = org.rowAt;
    org.rowAt = (table, position) => {
      visited++;
      return rowAt(table, position);
    };
    const cases: Array<{ filter: string; keep: (key: string) => boolean; top: number }> = [
      { filter: `contactid ge ${id(15_000)} and contactid le ${id(15_009)}`, keep: (k) => k >= id(15_000) && k <= id(15_009), top: 10 },
      { filter: `contactid gt ${id(19_990)}`, keep: (k) => k > id(19_990), top: 50 },
      { filter: `contactid lt ${id(3)} and contactid ne ${id(1)}`, keep: (k) => k < id(3) && k !== id(1), top: 50 },
      { filter: `${id(12_345).toUpperCase()} le contactid and contactid le ${id(12_347)}`, keep: (k) => k >= id(12_345) && k <= id(12_347), top: 5 },
      { filter: `contactid eq ${id(7_777)}`, keep: (k) => k === id(7_777), top: 5 },
      { filter: `contactid ge ${id(2_000)} and contactid le ${id(1_000)}`, keep: () => false, top: 5 },
    ];
    for (const { filter, keep, top } of cases) {
      visited = 0;
      const body = await json(await api(`contacts?$select=contactid&$filter=${filter}&$orderby=contactid asc&$top=${top}`));
      expect(body.value!.map((row) => row.contactid), filter).toEqual(all.filter(keep).slice(0, top));
      // The range and the two created rows, not 20,000 rows.
      expect(visited, filter).toBeLessThan(top + 5);
    }
    org.rowAt = rowAt;
  });

  it('orders by $orderby and pages ordered results without repeats', async () => {
    const { api } = await startOrg();
    const all: string[] = [];
    let next: string | undefined = 'accounts?$select=name&$orderby=name desc';
    while (next) {
      const response = await api(next.replace(/^.*\/api\/data\/v9\.2\//, ''), { headers: { Prefer: 'odata.maxpagesize=7' } });
      const body = await json(response);
      all.push(...body.value!.map((row) => String(row.accountid)));
      const names = body.value!.map((row) => String(row.name).toLowerCase());
      expect(names).toEqual([...names].sort().reverse());
      next = body['@odata.nextLink'] as string | undefined;
    }
    expect(all).toHaveLength(20);
    expect(new Set(all).size).toBe(20);
  });

  it('pages with odata.maxpagesize, echoes Preference-Applied, and the nextLink carries an XML paging cookie', async () => {
    const { api, server } = await startOrg();
    const first = await api('contacts?$select=fullname', { headers: { Prefer: 'odata.maxpagesize=50' } });
    expect(first.headers.get('preference-applied')).toBe('odata.maxpagesize=50');
    const body = await json(first);
    expect(body.value).toHaveLength(50);
    const nextLink = body['@odata.nextLink'] as string;
    expect(nextLink.startsWith(`${server.webApiUrl}contacts?$select=fullname&$skiptoken=`)).toBe(true);
    const cookie = decodeURIComponent(new URL(nextLink).searchParams.get('$skiptoken')!);
    expect(cookie).toMatch(/^<cookie pagenumber="2" pagingcookie="[^"]+" istracking="False" \/>$/);
    const ids = new Set(body.value!.map((row) => row.contactid));
    let link: string | undefined = nextLink;
    let pages = 1;
    while (link) {
      const page = await json(await fetch(link, { headers: { Authorization: `Bearer ${server.simulator.tokens.sync}`, Prefer: 'odata.maxpagesize=50' } }));
      for (const row of page.value!) ids.add(row.contactid);
      link = page['@odata.nextLink'] as string | undefined;
      pages++;
    }
    expect(pages).toBe(4);
    expect(ids.size).toBe(200);
  });

  it('ignores odata.maxpagesize above 5,000 and returns 5,000 rows per page by default', async () => {
    const { api } = await startOrg({ contacts: 6000, largeAccounts: [] });
    const big = await api('contacts?$select=contactid', { headers: { Prefer: 'odata.maxpagesize=10000' } });
    expect(big.status).toBe(200);
    const body = await json(big);
    expect(body.value).toHaveLength(5000);
    expect(body['@odata.nextLink']).toBeDefined();
    const plain = await json(await api('contacts?$select=contactid'));
    expect(plain.value).toHaveLength(5000);
  });

  it('applies $top, and ignores it when odata.maxpagesize is also sent', async () => {
    const { api } = await startOrg();
    const top = await json(await api('contacts?$select=fullname&$top=5'));
    expect(top.value).toHaveLength(5);
    expect(top['@odata.nextLink']).toBeUndefined();
    const both = await json(await api('contacts?$select=fullname&$top=5', { headers: { Prefer: 'odata.maxpagesize=20' } }));
    expect(both.value).toHaveLength(20);
    expect(both['@odata.nextLink']).toBeDefined();
  });

  it('counts with $count=true, capped at 5,000, with the limit annotations on request', async () => {
    const { api } = await startOrg({ contacts: 5200, largeAccounts: [] });
    const small = await json(await api('accounts?$select=name&$count=true&$top=1'));
    expect(small['@odata.count']).toBe(520);
    const capped = await json(
      await api('contacts?$select=fullname&$count=true', { headers: { Prefer: 'odata.maxpagesize=1,odata.include-annotations="Microsoft.Dynamics.CRM.*"' } }),
    );
    expect(capped['@odata.count']).toBe(5000);
    expect(capped['@Microsoft.Dynamics.CRM.totalrecordcount']).toBe(5000);
    expect(capped['@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded']).toBe(true);
    const text = await api('accounts/$count');
    expect(text.headers.get('content-type')).toBe('text/plain');
    expect(await text.text()).toBe('520');
  });

  it('caps @odata.count at 5,000: an account with 5,001 contacts counts like one with exactly 5,000', async () => {
    const { api, server } = await startOrg({ contacts: 10_500, accounts: 50, largeAccounts: [5000, 5001] });
    const [exact, over] = server.simulator.dataset.largeAccounts;
    const prefer = { Prefer: 'odata.maxpagesize=1,odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"' };
    const first = await json(await api(`contacts?$select=contactid&$count=true&$filter=_parentcustomerid_value eq ${exact!.id}`, { headers: prefer }));
    const second = await json(await api(`contacts?$select=contactid&$count=true&$filter=_parentcustomerid_value eq ${over!.id}`, { headers: prefer }));
    expect(first['@odata.count']).toBe(5000);
    expect(second['@odata.count']).toBe(5000);
    expect(first['@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded']).toBe(false);
    expect(second['@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded']).toBe(true);
  });

  it('reads several Prefer headers like one comma-separated header', async () => {
    const { server } = await startOrg();
    const headers = new Headers([
      ['Authorization', `Bearer ${server.simulator.tokens.sync}`],
      ['Prefer', 'odata.maxpagesize=3'],
      ['Prefer', 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'],
    ]);
    const response = await fetch(`${server.webApiUrl}leads?$select=leadsourcecode`, { headers });
    const body = await json(response);
    expect(body.value).toHaveLength(3);
    expect(body.value![0]!['leadsourcecode@OData.Community.Display.V1.FormattedValue']).toEqual(expect.any(String));
    expect(response.headers.get('preference-applied')).toBe('odata.maxpagesize=3,odata.include-annotations="OData.Community.Display.V1.FormattedValue"');
  });

  it('rejects $skip and unknown query options', async () => {
    const { api } = await startOrg();
    expect((await api('accounts?$skip=10')).status).toBe(400);
    expect((await api('accounts?$Select=name')).status).toBe(400);
  });

  it('adds lookup and formatted-value annotations only when Prefer asks for them', async () => {
    const { api, server } = await startOrg();
    const plain = await json(await api('contacts?$select=_parentcustomerid_value,statecode&$top=1'));
    expect(plain.value).toHaveLength(1);
    expect(Object.keys(plain.value![0]!).filter((key) => key.includes('@') && key !== '@odata.etag')).toEqual([]);
    const response = await api('contacts?$select=_parentcustomerid_value,_ownerid_value,statecode&$filter=_parentcustomerid_value ne null&$top=1', {
      headers: { Prefer: 'odata.include-annotations="*"' },
    });
    expect(response.headers.get('preference-applied')).toBe('odata.include-annotations="*"');
    const row = (await json(response)).value![0]!;
    expect(row['_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname']).toMatch(/^(account|contact)$/);
    expect(row['_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty']).toMatch(/^parentcustomerid_(account|contact)$/);
    expect(row['_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname']).toMatch(/^(systemuser|team)$/);
    expect(row['statecode@OData.Community.Display.V1.FormattedValue']).toMatch(/^(Active|Inactive)$/);
    const target = row['_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname'] as string;
    const index = server.simulator.dataset.indexOf(target, row._parentcustomerid_value as string)!;
    expect(row['_parentcustomerid_value@OData.Community.Display.V1.FormattedValue']).toBe(server.simulator.dataset.primaryName(target, index));
    const lookupOnly = (await json(
      await api('contacts?$select=_parentcustomerid_value,statecode&$top=1', { headers: { Prefer: 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"' } }),
    )).value![0]!;
    expect(lookupOnly).not.toHaveProperty('statecode@OData.Community.Display.V1.FormattedValue');
  });

  it('reads one row by id, and answers a missing id with 404 "<table> With Id = <id> Does Not Exist"', async () => {
    const { api, server } = await startOrg();
    const id = server.simulator.dataset.idOf('account', 7);
    const response = await api(`accounts(${id})?$select=name`);
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body['@odata.context']).toMatch(/\$metadata#accounts\(name\)\/\$entity$/);
    expect(body.accountid).toBe(id);
    expect(response.headers.get('etag')).toBe(body['@odata.etag']);
    const missing = '00000000-0000-4000-8000-000000000001';
    const notFound = await api(`accounts(${missing})`);
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toEqual({ error: { code: '0x80040217', message: `account With Id = ${missing} Does Not Exist` } });
  });

  it('answers a conditional GET with 304 when the etag matches, but never when annotations are requested', async () => {
    const { api, server } = await startOrg();
    const id = server.simulator.dataset.idOf('account', 1);
    const etag = (await json(await api(`accounts(${id})?$select=name`)))['@odata.etag'] as string;
    const notModified = await api(`accounts(${id})?$select=name`, { headers: { 'If-None-Match': etag } });
    expect(notModified.status).toBe(304);
    const annotated = await api(`accounts(${id})?$select=name`, { headers: { 'If-None-Match': etag, Prefer: 'odata.include-annotations="*"' } });
    expect(annotated.status).toBe(200);
  });

  it('answers WhoAmI with the calling user', async () => {
    const { api, server } = await startOrg();
    const body = await json(await api('WhoAmI'));
    expect(body.UserId).toBe(server.simulator.users.sync.id);
    expect(body.BusinessUnitId).toMatch(GUID);
    expect(body.OrganizationId).toMatch(GUID);
    expect(body['@odata.context']).toMatch(/\$metadata#Microsoft\.Dynamics\.CRM\.WhoAmIResponse$/);
    const admin = await json(await api('WhoAmI', { token: server.simulator.tokens.admin }));
    expect(admin.UserId).toBe(server.simulator.users.admin.id);
  });

  it('lists entity sets in the service document', async () => {
    const { api } = await startOrg();
    const body = await json(await api(''));
    expect(body.value!.map((entry) => entry.name)).toEqual(
      expect.arrayContaining(['accounts', 'contacts', 'leads', 'systemusers', 'teams', 'opportunities', 'new_memberships']),
    );
  });
});
