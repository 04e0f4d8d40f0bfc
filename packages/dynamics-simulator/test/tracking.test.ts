import { describe, expect, it } from 'vitest';
import { createClock } from '../src/index.js';
import { json, startOrg } from './helpers.js';
import type { TestOrg } from './helpers.js';

const relative = (link: string): string => link.replace(/^.*\/api\/data\/v9\.2\//, '');

/** Follows nextLinks to the end; returns all rows and the deltaLink. */
async function readAll(org: TestOrg, first: string, prefer: string): Promise<{ rows: Array<Record<string, unknown>>; deltaLink: string | undefined; pages: number }> {
  const rows: Array<Record<string, unknown>> = [];
  let link: string | undefined = first;
  let deltaLink: string | undefined;
  let pages = 0;
  while (link) {
    const response = await org.api(link, { headers: { Prefer: prefer } });
    expect(response.status).toBe(200);
    const body = await json(response);
    pages++;
    rows.push(...body.value!);
    link = body['@odata.nextLink'] ? relative(body['@odata.nextLink'] as string) : undefined;
    if (link) expect(body['@odata.deltaLink']).toBeUndefined();
    deltaLink = body['@odata.deltaLink'] as string | undefined;
  }
  return { rows, deltaLink, pages };
}

describe('change tracking', () => {
  it('pages the initial read and puts @odata.deltaLink with a $deltatoken only on the last page', async () => {
    const org = await startOrg();
    const first = await org.api('contacts?$select=fullname', { headers: { Prefer: 'odata.track-changes,odata.maxpagesize=80' } });
    expect(first.headers.get('preference-applied')).toBe('odata.maxpagesize=80,odata.track-changes');
    const cookie = decodeURIComponent(new URL((await json(first))['@odata.nextLink'] as string).searchParams.get('$skiptoken')!);
    expect(cookie).toContain('istracking="True"');
    const { rows, deltaLink, pages } = await readAll(org, 'contacts?$select=fullname', 'odata.track-changes,odata.maxpagesize=80');
    expect(pages).toBe(3);
    expect(rows).toHaveLength(200);
    expect(deltaLink).toMatch(/\/api\/data\/v9\.2\/contacts\?\$select=fullname&\$deltatoken=\d+%21\d{2}%2F\d{2}%2F\d{4}%20\d{2}%3A\d{2}%3A\d{2}$/);
  });

  it('keeps a paged initial read a change-tracking read when later pages omit the Prefer header', async () => {
    const org = await startOrg();
    const first = await json(await org.api('accounts?$select=name', { headers: { Prefer: 'odata.track-changes,odata.maxpagesize=15' } }));
    const second = await json(await org.api(relative(first['@odata.nextLink'] as string), { headers: { Prefer: 'odata.maxpagesize=15' } }));
    expect(second.value).toHaveLength(5);
    expect(second['@odata.deltaLink']).toMatch(/\$deltatoken=/);
  });

  it('returns changed rows, then $deletedEntity rows keyed on id, and a new deltaLink', async () => {
    const org = await startOrg();
    const { deltaLink } = await readAll(org, 'contacts?$select=fullname,jobtitle', 'odata.track-changes');
    const { control, dataset, users } = org.server.simulator;
    const changedId = dataset.idOf('contact', 10);
    const deletedId = dataset.idOf('contact', 11);
    control.updateRow('contact', changedId, { jobtitle: 'Chief Tester' }, { asUser: users.staff[0]!.id });
    control.deleteRow('contact', deletedId);
    const created = control.insertRow('contact', { firstname: 'Neo', lastname: 'Contact' });
    const response = await org.api(relative(deltaLink!), { headers: { Prefer: 'odata.track-changes' } });
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body['@odata.context']).toMatch(/\$metadata#contacts\(fullname,jobtitle\)\/\$delta$/);
    const value = body.value!;
    expect(value).toHaveLength(3);
    expect(value[0]).toMatchObject({ contactid: changedId, jobtitle: 'Chief Tester' });
    expect(value[1]).toMatchObject({ contactid: created.id, fullname: 'Neo Contact' });
    expect(value[2]).toEqual({
      '@odata.context': `${org.server.webApiUrl}$metadata#contacts/$deletedEntity`,
      id: deletedId,
      reason: 'deleted',
    });
    expect(value[2]).not.toHaveProperty('contactid');
    const next = body['@odata.deltaLink'] as string;
    expect(next).not.toBe(deltaLink);
    const empty = await json(await org.api(relative(next)));
    expect(empty.value).toEqual([]);
    expect(empty['@odata.deltaLink']).toBeDefined();
  });

  it('reports a row created and deleted between polls as deleted', async () => {
    const org = await startOrg();
    const { deltaLink } = await readAll(org, 'accounts?$select=name', 'odata.track-changes');
    const { control } = org.server.simulator;
    const created = control.insertRow('account', { name: 'Short-lived Ltd.' });
    control.deleteRow('account', created.id);
    const body = await json(await org.api(relative(deltaLink!)));
    expect(body.value).toEqual([expect.objectContaining({ id: created.id, reason: 'deleted' })]);
  });

  it('pages a large delta with nextLinks and ends with a deltaLink', async () => {
    const org = await startOrg();
    const { deltaLink } = await readAll(org, 'contacts?$select=fullname', 'odata.track-changes');
    const { control, dataset } = org.server.simulator;
    for (let i = 0; i < 30; i++) control.updateRow('contact', dataset.idOf('contact', i), { jobtitle: `Title ${i}` });
    for (let i = 30; i < 35; i++) control.deleteRow('contact', dataset.idOf('contact', i));
    const { rows, pages, deltaLink: next } = await readAll(org, relative(deltaLink!), 'odata.maxpagesize=8');
    expect(pages).toBe(5);
    expect(rows.filter((row) => row.reason === 'deleted')).toHaveLength(5);
    expect(rows.slice(0, 30).map((row) => row.contactid)).toEqual(Array.from({ length: 30 }, (_, i) => dataset.idOf('contact', i)));
    expect(next).toBeDefined();
  });

  it('with the narrowLinks quirk leaves columns out of the $select of its deltaLinks and nextLinks, as asked', async () => {
    const org = await startOrg();
    const { control } = org.server.simulator;
    const selectOf = (link: unknown) => new URL(link as string).searchParams.get('$select');
    control.setQuirks({ narrowLinks: { drop: ['jobtitle'], links: ['deltaLink'] } });
    const paged = await json(await org.api('contacts?$select=fullname,jobtitle', { headers: { Prefer: 'odata.track-changes,odata.maxpagesize=150' } }));
    expect(selectOf(paged['@odata.nextLink'])).toBe('fullname,jobtitle');
    const { deltaLink } = await readAll(org, 'contacts?$select=fullname,jobtitle', 'odata.track-changes');
    expect(selectOf(deltaLink)).toBe('fullname');
    expect(new URL(deltaLink!).searchParams.get('$deltatoken')).toMatch(/^\d+!/);

    expect(control.setQuirks({ narrowLinks: { drop: ['jobtitle', 'emailaddress1'] } }).narrowLinks).toEqual({ drop: ['jobtitle', 'emailaddress1'], links: ['deltaLink', 'nextLink'] });
    const narrowed = await json(await org.api('contacts?$select=fullname,jobtitle,emailaddress1', { headers: { Prefer: 'odata.track-changes,odata.maxpagesize=150' } }));
    expect(selectOf(narrowed['@odata.nextLink'])).toBe('fullname');
    // The narrowed link is what the service answers by: its rows lack the columns left out.
    const next = await json(await org.api(relative(narrowed['@odata.nextLink'] as string), { headers: { Prefer: 'odata.maxpagesize=150' } }));
    expect(Object.keys(next.value![0]!)).not.toContain('jobtitle');
    expect(selectOf(next['@odata.deltaLink'])).toBe('fullname');
    // Never an empty $select.
    const only = await json(await org.api('contacts?$select=jobtitle', { headers: { Prefer: 'odata.track-changes' } }));
    expect(selectOf(only['@odata.deltaLink'])).toBe('jobtitle');
    expect(control.setQuirks(null)).toEqual({ ignoreContinueOnError: false, narrowLinks: null });
  });

  it('rejects $filter, $orderby, $top and $expand with track-changes, with the documented message', async () => {
    const org = await startOrg();
    for (const [option, query] of [
      ['$filter', "$filter=name eq 'x'"],
      ['$orderby', '$orderby=name'],
      ['$top', '$top=5'],
      ['$expand', '$expand=primarycontactid'],
    ] as const) {
      const response = await org.api(`accounts?$select=name&${query}`, { headers: { Prefer: 'odata.track-changes' } });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { message: string } }).error.message).toBe(
        `The "${option}" query parameter isn't supported when Change Tracking is enabled.`,
      );
    }
  });

  it('fails a delta token older than the configured age with the expiry message', async () => {
    const clock = createClock({ start: '2025-03-01T00:00:00Z', manual: true });
    const org = await startOrg({ clock, deltaTokenMaxAgeMs: 3_600_000 });
    const { deltaLink } = await readAll(org, 'accounts?$select=name', 'odata.track-changes');
    expect((await org.api(relative(deltaLink!))).status).toBe(200);
    clock.advance(3_600_001);
    const expired = await org.api(relative(deltaLink!));
    expect(expired.status).toBe(400);
    expect(await expired.json()).toEqual({
      error: { code: '0x80040203', message: 'Version stamp associated with the client has expired. Please perform a full sync.' },
    });
  });

  it('fails every earlier delta token after expireDeltaTokens, while new ones work', async () => {
    const org = await startOrg();
    const { deltaLink } = await readAll(org, 'accounts?$select=name', 'odata.track-changes');
    expect((await org.control('delta-tokens/expire', { method: 'POST' })).status).toBe(204);
    expect((await org.api(relative(deltaLink!))).status).toBe(400);
    const fresh = await readAll(org, 'accounts?$select=name', 'odata.track-changes');
    expect((await org.api(relative(fresh.deltaLink!))).status).toBe(200);
  });

  it('counts changes with $count and a delta token', async () => {
    const org = await startOrg();
    const { deltaLink } = await readAll(org, 'accounts?$select=name', 'odata.track-changes');
    const token = new URL(deltaLink!).searchParams.get('$deltatoken')!;
    org.server.simulator.control.updateRow('account', org.server.simulator.dataset.idOf('account', 2), { name: 'Renamed' });
    const response = await org.api(`accounts/$count?$deltatoken=${encodeURIComponent(token)}`);
    expect(await response.text()).toBe('1');
  });

  it('returns no deltaLink for a table without change tracking', async () => {
    const org = await startOrg();
    org.server.simulator.control.setChangeTracking('team', false);
    const response = await org.api('teams?$select=name', { headers: { Prefer: 'odata.track-changes' } });
    const body = await json(response);
    expect(body['@odata.deltaLink']).toBeUndefined();
    expect(response.headers.get('preference-applied')).toBeNull();
  });

  it('needs organization-level read: a user with hidden rows gets 403 on track-changes', async () => {
    const org = await startOrg();
    const { control, users } = org.server.simulator;
    control.setRowFilter(users.sync.id, 'account', 'statecode eq 1');
    const response = await org.api('accounts?$select=name', { headers: { Prefer: 'odata.track-changes' } });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('0x80040220');
  });
});
