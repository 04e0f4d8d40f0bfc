import { describe, expect, it } from 'vitest';
import { json, startOrg } from './helpers.js';

describe('control API over HTTP', () => {
  it('describes the org: URLs, credentials, users and row counts', async () => {
    const org = await startOrg();
    const info = await json(await org.control('info'));
    expect(info).toMatchObject({ url: org.server.url, webApiUrl: org.server.webApiUrl, tokenUrl: org.server.tokenUrl });
    expect(info.counts).toMatchObject({ contact: 200, account: 20 });
    expect((info.users as { sync: { id: string } }).sync.id).toBe(org.server.simulator.users.sync.id);
  });

  it('inserts, updates and deletes rows as a given CRM user, visible through the Web API', async () => {
    const org = await startOrg();
    const staff = org.server.simulator.users.staff[2]!;
    const inserted = await org.control('rows/account', { method: 'POST', body: JSON.stringify({ values: { name: 'Control Co.' }, asUser: staff.id }) });
    expect(inserted.status).toBe(201);
    const { id, etag } = (await inserted.json()) as { id: string; etag: string };
    expect(etag).toMatch(/^W\/"\d+"$/);
    const row = await json(await org.api(`accounts(${id})?$select=name,_modifiedby_value,_ownerid_value`));
    expect(row).toMatchObject({ name: 'Control Co.', _modifiedby_value: staff.id, _ownerid_value: staff.id });
    const updated = await org.control(`rows/account/${id}`, { method: 'PATCH', body: JSON.stringify({ values: { name: 'Control Co. 2' } }) });
    expect(updated.status).toBe(200);
    expect((await json(await org.api(`accounts(${id})?$select=name`))).name).toBe('Control Co. 2');
    expect((await org.control(`rows/account/${id}?asUser=${staff.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await org.api(`accounts(${id})`)).status).toBe(404);
    expect((await org.control(`rows/account/${id}`)).status).toBe(404);
  });

  it('answers bad input with clear 4xx errors', async () => {
    const org = await startOrg();
    const badJson = await org.control('rows/account', { method: 'POST', body: '{' });
    expect(badJson.status).toBe(400);
    const missing = await org.control('rows/account', { method: 'POST', body: JSON.stringify({ asUser: 3 }) });
    expect(missing.status).toBe(400);
    const missingBody = (await missing.json()) as { error: { message: string; issues: unknown[] } };
    expect(missingBody.error.message).toMatch(/^Invalid body: /);
    expect(missingBody.error.issues.length).toBeGreaterThan(0);
    expect((await org.control('rows/nosuchtable', { method: 'POST', body: JSON.stringify({ values: {} }) })).status).toBe(404);
    const badValue = await org.control('rows/account', { method: 'POST', body: JSON.stringify({ values: { numberofemployees: 'x' } }) });
    expect(badValue.status).toBe(400);
    expect((await org.control('columns/account', { method: 'POST', body: JSON.stringify({ logicalName: 'Bad Name', type: 'String' }) })).status).toBe(400);
    expect((await org.control('limits', { method: 'PUT', body: JSON.stringify({ maxRequests: -1 }) })).status).toBe(400);
    expect((await org.control('faults', { method: 'PUT', body: JSON.stringify({ rules: [{ kind: 'explode', rate: 1 }] }) })).status).toBe(400);
    expect((await org.control('quirks', { method: 'PUT', body: JSON.stringify({ narrowLinks: { drop: [] } }) })).status).toBe(400);
    expect((await org.control('quirks', { method: 'PUT', body: JSON.stringify({ narrowLinks: { drop: ['x'], links: ['prevLink'] } }) })).status).toBe(400);
    expect((await org.control('nowhere')).status).toBe(404);
  });

  it('sets limits and faults, and clears them', async () => {
    const org = await startOrg();
    const limits = await json(await org.control('limits', { method: 'PUT', body: JSON.stringify({ maxRequests: 2, cost: { perRowMs: 2 } }) }));
    expect(limits).toMatchObject({ maxRequests: 2, windowMs: 300_000, cost: { baseMs: 10, perRowMs: 2 } });
    await org.control('faults', { method: 'PUT', body: JSON.stringify({ seed: 3, rules: [{ kind: '503', rate: 1, path: '/WhoAmI' }] }) });
    expect((await org.api('WhoAmI')).status).toBe(503);
    expect((await org.control('faults', { method: 'DELETE' })).status).toBe(204);
    // The third request exceeds the limit and still passes (enforcement lags); the fourth is refused.
    expect((await org.api('WhoAmI')).status).toBe(200);
    expect((await org.api('WhoAmI')).status).toBe(200);
    expect((await org.api('WhoAmI')).status).toBe(429);
    expect((await org.control('limits', { method: 'DELETE' })).status).toBe(204);
    expect((await org.api('WhoAmI')).status).toBe(200);
  });

  it('records requests in a log: method, url, status, user, time and fault', async () => {
    const org = await startOrg({ faults: { rules: [{ kind: '500', rate: 1, limit: 1 }] } });
    await org.api('WhoAmI');
    await org.api('accounts?$select=name&$top=2');
    await org.api('WhoAmI', { token: null });
    const log = (await (await org.control('requests')).json()) as Array<Record<string, unknown>>;
    expect(log).toHaveLength(3);
    expect(log[0]).toMatchObject({ seq: 1, method: 'GET', status: 500, fault: '500', userId: org.server.simulator.users.sync.id });
    expect(log[1]).toMatchObject({ status: 200, fault: null, rows: 2, url: `${org.server.webApiUrl}accounts?$select=name&$top=2` });
    expect(log[2]).toMatchObject({ status: 401, userId: null });
    expect(typeof log[0]!.time).toBe('string');
    const since = (await (await org.control('requests?since=2')).json()) as unknown[];
    expect(since).toHaveLength(1);
    expect((await org.control('requests?since=-1')).status).toBe(400);
    await org.control('requests', { method: 'DELETE' });
    expect(await (await org.control('requests')).json()).toEqual([]);
  });

  it('advances the clock, which moves modifiedon of later writes', async () => {
    const org = await startOrg({ clock: { start: '2025-01-01T00:00:00Z', manual: true } });
    const advanced = await json(await org.control('clock/advance', { method: 'POST', body: JSON.stringify({ ms: 86_400_000 }) }));
    expect(advanced.now).toBe('2025-01-02T00:00:00.000Z');
    const { id } = org.server.control.insertRow('account', { name: 'Dated' });
    expect((await json(await org.api(`accounts(${id})?$select=modifiedon`))).modifiedon).toBe('2025-01-02T00:00:00Z');
  });

  it('reports memory and overlay size in stats', async () => {
    const org = await startOrg();
    org.server.control.updateRow('contact', org.server.simulator.dataset.idOf('contact', 0), { jobtitle: 'x' });
    const stats = await json(await org.control('stats'));
    expect(stats.overlayRows).toBe(1);
    expect((stats.memory as { rss: number }).rss).toBeGreaterThan(0);
  });
});
