import { describe, expect, it } from 'vitest';
import type { CrmCreate, CrmUpdate } from '@crm-sync/core';
import { chunksOfDistinct, createRecordLocks } from '../src/bulk.js';
import { adapterFor, apiRequests, contact, lead, useMsw } from './helpers.js';

const msw = useMsw();
const etagOf = (row: Record<string, unknown> | null) => String(row?.['@odata.etag'] ?? '').replace(/^W\/"(.*)"$/, '$1');
const clientId = (i: number) => `2c2c2c2c-0000-4000-8000-${String(i).padStart(12, '0')}`;
const newLeads = (n: number, from = 0): CrmCreate[] => Array.from({ length: n }, (_, i) => ({ id: clientId(from + i), fields: { firstname: `Bulk${from + i}`, lastname: 'Lead' } }));
const paths = (sim: ReturnType<typeof msw.simulate>) => apiRequests(sim).map((r) => `${r.method} ${new URL(r.url).pathname.replace('/api/data/v9.2/', '')}`);
const discoveries = (sim: ReturnType<typeof msw.simulate>) => apiRequests(sim).filter((r) => r.url.includes('sdkmessagefilters'));

describe('bulk messages (CreateMultiple, UpdateMultiple)', () => {
  it('creates through CreateMultiple with the client ids, each result with the row version; support is asked once and cached', async () => {
    const sim = msw.simulate({ contacts: 20, leads: 20 });
    const { crm } = adapterFor(sim);
    const first = await crm.createRecords(lead, newLeads(25));
    const second = await crm.createRecords(lead, newLeads(25, 25));
    const results = [...first, ...second];
    expect(results).toHaveLength(50);
    results.forEach((result, i) => expect(result).toEqual({ id: clientId(i), ok: true, version: etagOf(sim.control.getRow('lead', clientId(i))), created: true }));
    expect(sim.control.getRow('lead', clientId(49))).toMatchObject({ firstname: 'Bulk49', _modifiedby_value: sim.users.sync.id });
    const discovery = discoveries(sim);
    expect(discovery).toHaveLength(1);
    expect(discovery[0]!.url).toContain("sdkmessageid/name eq 'CreateMultiple' and primaryobjecttypecode eq 'lead'");
    const writes = paths(sim).filter((p) => !p.startsWith('GET'));
    expect(writes).toEqual(['POST leads/Microsoft.Dynamics.CRM.CreateMultiple', 'POST leads/Microsoft.Dynamics.CRM.CreateMultiple']);
  });

  it('splits a large push into chunks of bulk.size, sent in parallel', async () => {
    const sim = msw.simulate({ contacts: 20, leads: 20 });
    const { crm } = adapterFor(sim, { bulk: { size: 10 } });
    const results = await crm.createRecords(lead, newLeads(35));
    expect(results.filter((r) => r.ok)).toHaveLength(35);
    expect(paths(sim).filter((p) => p.endsWith('CreateMultiple'))).toHaveLength(4);
  });

  it('reports each bulk request as its records for the daily entitlement count', async () => {
    const sim = msw.simulate({ contacts: 20, leads: 20 });
    const { crm, events } = adapterFor(sim, { bulk: { size: 10 } });
    expect((await crm.createRecords(lead, newLeads(25))).filter((r) => r.ok)).toHaveLength(25);
    const bulk = events.flatMap((e) => (e.type === 'request' && e.path.endsWith('CreateMultiple') ? [e.operations] : []));
    expect(bulk.sort()).toEqual([10, 10, 5]);
  });

  it('a table without the messages, a push below bulk.minRows, or bulk off: $batch as before', async () => {
    const unsupported = msw.simulate({ contacts: 20, leads: 20, bulkMessages: { unsupported: ['lead'] } });
    const results = await adapterFor(unsupported).crm.createRecords(lead, newLeads(20));
    expect(results.filter((r) => r.ok)).toHaveLength(20);
    expect(paths(unsupported).filter((p) => !p.startsWith('GET'))).toEqual(['POST $batch']);
    expect(discoveries(unsupported)).toHaveLength(1);

    const small = msw.simulate({ contacts: 20, leads: 20 });
    expect((await adapterFor(small).crm.createRecords(lead, newLeads(9))).filter((r) => r.ok)).toHaveLength(9);
    expect(paths(small).filter((p) => !p.startsWith('GET'))).toEqual(['POST $batch']);
    expect(discoveries(small)).toHaveLength(0);

    const off = msw.simulate({ contacts: 20, leads: 20 });
    expect((await adapterFor(off, { bulk: { enabled: false } }).crm.createRecords(lead, newLeads(20))).filter((r) => r.ok)).toHaveLength(20);
    expect(paths(off).filter((p) => !p.startsWith('GET'))).toEqual(['POST $batch']);
  });

  it('a refused chunk (all or nothing) is sent again as $batch: only the bad row is rejected, its neighbours are written', async () => {
    const sim = msw.simulate({ contacts: 20, leads: 20 });
    const { crm, events } = adapterFor(sim);
    const creates = newLeads(12);
    creates[5] = { id: clientId(5), fields: { firstname: 'x'.repeat(60), lastname: 'Too long' } };
    const results = await crm.createRecords(lead, creates);
    expect(results.map((r) => (r.ok ? 'ok' : r.kind))).toEqual([...Array(5).fill('ok'), 'rejected', ...Array(6).fill('ok')]);
    expect(results[5]).toMatchObject({ ok: false, kind: 'rejected', status: 400, message: expect.stringContaining('maximum allowed length') });
    expect(sim.control.getRow('lead', clientId(5))).toBeNull();
    expect(sim.control.getRow('lead', clientId(11))).toMatchObject({ firstname: 'Bulk11' });
    expect(paths(sim).filter((p) => !p.startsWith('GET'))).toEqual(['POST leads/Microsoft.Dynamics.CRM.CreateMultiple', 'POST $batch']);
    expect(events.filter((e) => e.type === 'bulk-fallback')).toEqual([{ type: 'bulk-fallback', entity: 'lead', message: 'CreateMultiple', rows: 12, status: 400 }]);
  });

  it('a retried create whose id is taken: the chunk falls back and that row is "exists", the others created', async () => {
    const sim = msw.simulate({ contacts: 20, leads: 20 });
    const { crm } = adapterFor(sim);
    const taken = sim.dataset.idOf('lead', 3);
    const creates = newLeads(11);
    creates[2] = { id: taken, fields: { lastname: 'Again' } };
    const results = await crm.createRecords(lead, creates);
    expect(results[2]).toMatchObject({ id: taken, ok: false, kind: 'exists', status: 412 });
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(sim.control.getRow('lead', taken)?.lastname).not.toBe('Again');
  });

  it('R2: updates checked against a version never go through UpdateMultiple; a stale version is still a collision', async () => {
    const sim = msw.simulate({ contacts: 30 });
    const { crm } = adapterFor(sim);
    const ids = Array.from({ length: 15 }, (_, i) => sim.dataset.idOf('contact', i));
    const updates: CrmUpdate[] = ids.map((id) => ({ id, ifVersion: etagOf(sim.control.getRow('contact', id)), fields: { jobtitle: 'Mine' } }));
    sim.control.updateRow('contact', ids[7]!, { jobtitle: 'Changed in the CRM' });
    const results = await crm.updateRecords(contact, updates);
    expect(results.map((r) => (r.ok ? 'ok' : r.kind))).toEqual([...Array(7).fill('ok'), 'collision', ...Array(7).fill('ok')]);
    expect(sim.control.getRow('contact', ids[7]!)?.jobtitle).toBe('Changed in the CRM');
    expect(paths(sim).filter((p) => !p.startsWith('GET'))).toEqual(['POST $batch']);
    expect(discoveries(sim)).toHaveLength(0);
  });

  it('updates without a version to check go through UpdateMultiple; a missing row falls back and is not-found, never created', async () => {
    const sim = msw.simulate({ contacts: 30 });
    const { crm } = adapterFor(sim);
    const ids = Array.from({ length: 12 }, (_, i) => sim.dataset.idOf('contact', i));
    const ok = await crm.updateRecords(contact, ids.map((id) => ({ id, ifVersion: null, fields: { jobtitle: 'Bulk' } })));
    ok.forEach((result, i) => expect(result).toEqual({ id: ids[i], ok: true, version: etagOf(sim.control.getRow('contact', ids[i]!)), created: false }));
    expect(paths(sim).filter((p) => !p.startsWith('GET'))).toEqual(['POST contacts/Microsoft.Dynamics.CRM.UpdateMultiple']);
    const ghost = clientId(99);
    const mixed = await crm.updateRecords(contact, [...ids, ghost].map((id) => ({ id, ifVersion: null, fields: { jobtitle: 'Again' } })));
    expect(mixed.map((r) => (r.ok ? 'ok' : r.kind))).toEqual([...Array(12).fill('ok'), 'not-found']);
    expect(sim.control.getRow('contact', ghost)).toBeNull();
    expect(sim.control.getRow('contact', ids[0]!)?.jobtitle).toBe('Again');
  });

  it('never has two bulk requests in flight on the same record (the service would deadlock)', async () => {
    // Answers held for their execution time, so requests in flight overlap; 40 ms per record written.
    const sim = msw.simulate({ contacts: 60, limits: { enabled: true, holdAnswers: true, cost: { baseMs: 0, perWriteMs: 40 } } });
    const { crm } = adapterFor(sim, { bulk: { size: 10 } });
    const ids = Array.from({ length: 40 }, (_, i) => sim.dataset.idOf('contact', i));
    const update = (slice: string[], jobtitle: string) => crm.updateRecords(contact, slice.map((id) => ({ id, ifVersion: null, fields: { jobtitle } })));
    // Two calls at once sharing records 10-29, and one call naming a record twice.
    const [a, b, c] = await Promise.all([update(ids.slice(0, 30), 'A'), update(ids.slice(10, 40), 'B'), update([...ids.slice(30, 40), ids[30]!], 'C')]);
    expect([a.length, b.length, c.length]).toEqual([30, 30, 11]);
    for (const results of [a, b, c]) expect(results.filter((r) => !r.ok)).toEqual([]);
    expect([a.length, b.length, c.length]).toEqual([30, 30, 11]);
    expect(sim.bulkMessages.deadlocks()).toBe(0);
    // a: 3 chunks, b: 3, c: 2 (its repeated record in a chunk of its own).
    expect(paths(sim).filter((p) => p.endsWith('UpdateMultiple'))).toHaveLength(8);
  });
});

describe('bulk helpers', () => {
  it('chunksOfDistinct keeps chunk sizes and never puts one key twice in a chunk', () => {
    const chunks = chunksOfDistinct(['a', 'b', 'a', 'c', 'a', 'd', 'e'], 3, (x) => x);
    expect(chunks).toEqual([['a', 'b', 'c'], ['a', 'd', 'e'], ['a']]);
  });

  it('record locks run work on shared keys one after the other, on distinct keys at once', async () => {
    const locks = createRecordLocks();
    const order: string[] = [];
    const job = (name: string, keys: string[], ms: number) =>
      locks.with(keys, async () => {
        order.push(`${name}+`);
        await new Promise((resolve) => setTimeout(resolve, ms));
        order.push(`${name}-`);
      });
    await Promise.all([job('x', ['1', '2'], 30), job('y', ['2', '3'], 5), job('z', ['4'], 5)]);
    expect(order).toEqual(['x+', 'z+', 'z-', 'x-', 'y+', 'y-']);
    expect(locks.size()).toBe(0);
  });
});
