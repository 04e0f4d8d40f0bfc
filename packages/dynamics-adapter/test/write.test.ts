import { describe, expect, it } from 'vitest';
import { createEntityRegistry } from '@crm-sync/core';
import type { CrmUpdate, CrmWriteResult } from '@crm-sync/core';
import { account, adapterFor, contact, failure, lead, pull, useMsw } from './helpers.js';

const msw = useMsw();
const NEW_ID = '0b0b0b0b-1c1c-4d2d-8e3e-4f4f4f4f4f4f';
const etagOf = (row: Record<string, unknown> | null) => String(row?.['@odata.etag'] ?? '').replace(/^W\/"(.*)"$/, '$1');
const writes = (sim: ReturnType<typeof msw.simulate>) => sim.control.requestLog().filter((e) => e.method !== 'GET');

/** Writes to contacts 4-8 that succeed, collide (the row changed since), are refused (too long), find no row, succeed. */
function mixedUpdates(sim: ReturnType<typeof msw.simulate>) {
  const ids = [4, 5, 6, 7, 8].map((i) => sim.dataset.idOf('contact', i));
  const versions = ids.map((id) => etagOf(sim.control.getRow('contact', id)));
  sim.control.updateRow('contact', ids[1]!, { jobtitle: 'moved on' });
  const updates: CrmUpdate[] = [
    { id: ids[0]!, ifVersion: versions[0]!, fields: { jobtitle: 'one' } },
    { id: ids[1]!, ifVersion: versions[1]!, fields: { jobtitle: 'two' } },
    { id: ids[2]!, ifVersion: versions[2]!, fields: { firstname: 'y'.repeat(60) } },
    { id: NEW_ID, ifVersion: null, fields: { jobtitle: 'missing' } },
    { id: ids[4]!, ifVersion: null, fields: { jobtitle: 'five' } },
  ];
  return { ids, updates };
}

describe('updateRecords', () => {
  it('updates with If-Match and returns the new version', async () => {
    const sim = msw.simulate({ contacts: 20 });
    const { crm } = adapterFor(sim);
    const id = sim.dataset.idOf('contact', 1);
    const before = etagOf(sim.control.getRow('contact', id));
    const [result] = await crm.updateRecords(contact, [{ id, ifVersion: before, fields: { jobtitle: 'Engineer', firstname: "D'Arcy" } }]);
    const after = sim.control.getRow('contact', id);
    expect(result).toEqual({ id, ok: true, version: etagOf(after), created: false });
    expect(result?.ok && result.version).not.toBe(before);
    expect(after).toMatchObject({ jobtitle: 'Engineer', firstname: "D'Arcy", _modifiedby_value: sim.users.sync.id });
  });

  it('reports a 412 as a collision and changes nothing', async () => {
    const sim = msw.simulate({ contacts: 20 });
    const { crm } = adapterFor(sim);
    const id = sim.dataset.idOf('contact', 2);
    const stale = etagOf(sim.control.getRow('contact', id));
    sim.control.updateRow('contact', id, { jobtitle: 'Changed in the CRM' });
    const [result] = await crm.updateRecords(contact, [{ id, ifVersion: stale, fields: { jobtitle: 'Mine' } }]);
    expect(result).toMatchObject({ id, ok: false, kind: 'collision', status: 412 });
    expect(sim.control.getRow('contact', id)?.jobtitle).toBe('Changed in the CRM');
  });

  it('never re-creates a deleted row: a missing row is not-found', async () => {
    const sim = msw.simulate({ contacts: 20 });
    const { crm } = adapterFor(sim);
    const [result] = await crm.updateRecords(contact, [{ id: NEW_ID, ifVersion: null, fields: { jobtitle: 'ghost' } }]);
    expect(result).toMatchObject({ ok: false, kind: 'not-found', status: 404 });
    expect(sim.control.getRow('contact', NEW_ID)).toBeNull();
  });

  it('reports values the CRM refuses as rejected, with its message', async () => {
    const sim = msw.simulate({ contacts: 20 });
    const { crm } = adapterFor(sim);
    const id = sim.dataset.idOf('contact', 3);
    const [result] = await crm.updateRecords(contact, [{ id, ifVersion: null, fields: { firstname: 'x'.repeat(51) } }]);
    expect(result).toMatchObject({ ok: false, kind: 'rejected', status: 400, message: expect.stringContaining('maximum allowed length') });
  });

  it('batches several writes in one $batch, one result per write in order, one failure not failing the rest', async () => {
    const sim = msw.simulate({ contacts: 20 });
    const { crm } = adapterFor(sim);
    const { ids, updates } = mixedUpdates(sim);
    sim.control.clearRequestLog();
    const results = await crm.updateRecords(contact, updates);
    expect(results.map((r) => (r.ok ? 'ok' : r.kind))).toEqual(['ok', 'collision', 'rejected', 'not-found', 'ok']);
    expect(results.map((r) => r.id)).toEqual([ids[0], ids[1], ids[2], NEW_ID, ids[4]]);
    expect(sim.control.getRow('contact', ids[0]!)?.jobtitle).toBe('one');
    expect(sim.control.getRow('contact', ids[4]!)?.jobtitle).toBe('five');
    expect(results[0]?.ok && results[0].version).toBe(etagOf(sim.control.getRow('contact', ids[0]!)));
    expect(writes(sim).map((e) => `${e.method} ${new URL(e.url).pathname}`)).toEqual(['POST /api/data/v9.2/$batch']);
  });

  it('when the service ignores continue-on-error (400 with only the failed part), every row still gets its outcome', async () => {
    const sim = msw.simulate({ contacts: 20, quirks: { ignoreContinueOnError: true } });
    const { crm } = adapterFor(sim);
    const { ids, updates } = mixedUpdates(sim);
    // Metadata read first, so the log below holds the writes alone.
    await crm.describeEntity(contact);
    sim.control.clearRequestLog();
    const results = await crm.updateRecords(contact, updates);
    expect(results.map((r) => (r.ok ? 'ok' : r.kind))).toEqual(['ok', 'collision', 'rejected', 'not-found', 'ok']);
    expect(results.map((r) => r.id)).toEqual([ids[0], ids[1], ids[2], NEW_ID, ids[4]]);
    // The row applied before the failure keeps its success and its version, written once.
    expect(results[0]?.ok && results[0].version).toBe(etagOf(sim.control.getRow('contact', ids[0]!)));
    expect(sim.control.getRow('contact', ids[0]!)?.jobtitle).toBe('one');
    // The failed rows carry the CRM's message; the rows after each failure were sent again.
    expect(results[2]).toMatchObject({ status: 400, message: expect.stringContaining('maximum allowed length') });
    expect(results[1]).toMatchObject({ status: 412, message: expect.stringContaining("doesn't match the RowVersion") });
    expect(sim.control.getRow('contact', ids[1]!)?.jobtitle).toBe('moved on');
    expect(sim.control.getRow('contact', ids[4]!)?.jobtitle).toBe('five');
    // Each answer stops at its first failure: the rows after it go in the next batch (the last one on its own).
    expect(writes(sim).map((e) => `${e.method} ${new URL(e.url).pathname}`)).toEqual([
      'POST /api/data/v9.2/$batch', 'POST /api/data/v9.2/$batch', 'POST /api/data/v9.2/$batch', `PATCH /api/data/v9.2/contacts(${ids[4]})`,
    ]);
  });

  it('when a stopped batch does not say which write failed (no Content-ID), sends each write again on its own', async () => {
    const sim = msw.simulate({ contacts: 20, quirks: { ignoreContinueOnError: true } });
    // The service's answer without the Content-ID of its part.
    const fetch = async (url: string | URL | Request, init?: RequestInit) => {
      const response = await globalThis.fetch(url, init);
      if (!String(url).endsWith('$batch')) return response;
      const text = (await response.text()).replace(/Content-ID: \d+\r\n/g, '');
      return new Response(text, { status: response.status, headers: response.headers });
    };
    const { crm } = adapterFor(sim, { fetch });
    const ids = [4, 5, 6].map((i) => sim.dataset.idOf('contact', i));
    const versions = ids.map((id) => etagOf(sim.control.getRow('contact', id)));
    const results = await crm.updateRecords(contact, [
      { id: ids[0]!, ifVersion: versions[0]!, fields: { jobtitle: 'one' } },
      { id: ids[1]!, ifVersion: versions[1]!, fields: { firstname: 'y'.repeat(60) } },
      { id: ids[2]!, ifVersion: versions[2]!, fields: { jobtitle: 'three' } },
    ]);
    // The first write was applied by the batch: sent again it is a collision (core reads the row and pushes again), never a second write.
    expect(results.map((r) => (r.ok ? 'ok' : r.kind))).toEqual(['collision', 'rejected', 'ok']);
    expect(results[1]).toMatchObject({ status: 400, message: expect.stringContaining('maximum allowed length') });
    expect(sim.control.getRow('contact', ids[0]!)?.jobtitle).toBe('one');
    expect(sim.control.getRow('contact', ids[2]!)?.jobtitle).toBe('three');
  });

  it('splits large write sets into batches of batchSize', async () => {
    const sim = msw.simulate({ contacts: 30 });
    const { crm } = adapterFor(sim, { batchSize: 10, bulk: { enabled: false } }); // the $batch path (bulk messages: bulk.test.ts)
    const updates = Array.from({ length: 25 }, (_, i) => ({ id: sim.dataset.idOf('contact', i), ifVersion: null, fields: { jobtitle: `n${i}` } }));
    const results = await crm.updateRecords(contact, updates);
    expect(results.map((r) => [r.id, r.ok])).toEqual(updates.map((u) => [u.id, true]));
    expect(writes(sim)).toHaveLength(3);
    expect(sim.control.getRow('contact', sim.dataset.idOf('contact', 24))?.jobtitle).toBe('n24');
  });

  it('refuses unknown and non-updatable fields before sending anything (R8, R6)', async () => {
    const sim = msw.simulate({ contacts: 5 });
    const { crm } = adapterFor(sim);
    const id = sim.dataset.idOf('contact', 0);
    const unknown = await failure(crm.updateRecords(contact, [{ id, ifVersion: null, fields: { local_score: 3 } }]));
    expect(unknown.code).toBe('FIELD_NOT_IN_CRM');
    const secured = await failure(crm.updateRecords(contact, [{ id, ifVersion: null, fields: { new_riskscore: 3 } }]));
    expect(secured.code).toBe('FIELD_NOT_UPDATABLE');
    expect(secured.message).toContain('new_riskscore');
    expect(writes(sim)).toEqual([]);
  });

  it('sets lookups through their navigation property, finding the target of a polymorphic lookup', async () => {
    const sim = msw.simulate({ contacts: 20 });
    const { crm } = adapterFor(sim);
    const id = sim.dataset.idOf('contact', 9);
    const accountId = sim.dataset.idOf('account', 1);
    const otherContact = sim.dataset.idOf('contact', 10);
    const [toAccount] = await crm.updateRecords(contact, [{ id, ifVersion: null, fields: { parentcustomerid: accountId } }]);
    expect(toAccount?.ok).toBe(true);
    expect(sim.control.getRow('contact', id)?._parentcustomerid_value).toBe(accountId);
    const [toContact] = await crm.updateRecords(contact, [{ id, ifVersion: null, fields: { parentcustomerid: otherContact } }]);
    expect(toContact?.ok).toBe(true);
    const pulled = (await pull(crm, contact, ['parentcustomerid'], null)).upserts.find((r) => r.id === id);
    expect(pulled?.lookups.parentcustomerid).toEqual({ id: otherContact, entity: 'contact' });
    const [cleared] = await crm.updateRecords(contact, [{ id, ifVersion: null, fields: { parentcustomerid: null } }]);
    expect(cleared?.ok).toBe(true);
    expect(sim.control.getRow('contact', id)?._parentcustomerid_value).toBeNull();
    const [nowhere] = await crm.updateRecords(contact, [{ id, ifVersion: null, fields: { parentcustomerid: NEW_ID } }]);
    expect(nowhere).toMatchObject({ ok: false, kind: 'rejected', message: expect.stringContaining('no account or contact') });
  });

  it('binds a custom single-target lookup by its schema name', async () => {
    const custom = createEntityRegistry({ custom: [{ name: 'new_membership' }] }).get('new_membership');
    const sim = msw.simulate({ contacts: 20, memberships: 5 });
    const { crm } = adapterFor(sim);
    const id = sim.dataset.idOf('new_membership', 0);
    const target = sim.dataset.idOf('contact', 3);
    const [result] = await crm.updateRecords(custom, [{ id, ifVersion: null, fields: { new_contactid: target } }]);
    expect(result?.ok).toBe(true);
    expect(sim.control.getRow('new_membership', id)?._new_contactid_value).toBe(target);
  });

  it('rejects ids that are not GUIDs without sending them', async () => {
    const sim = msw.simulate({ contacts: 5 });
    const { crm } = adapterFor(sim);
    const [result] = await crm.updateRecords(contact, [{ id: "x') or (1", ifVersion: null, fields: { jobtitle: 'a' } }]);
    expect(result).toMatchObject({ ok: false, kind: 'rejected' });
    expect(writes(sim)).toEqual([]);
  });
});

describe('createRecords', () => {
  it('creates a lead with the caller id and returns its version (R14); a retried create is reported as exists', async () => {
    const sim = msw.simulate({ contacts: 5 });
    const { crm } = adapterFor(sim);
    const [created] = await crm.createRecords(lead, [{ id: NEW_ID, fields: { firstname: 'New', lastname: 'Lead', companyname: 'Acme', leadsourcecode: 8 } }]);
    const row = sim.control.getRow('lead', NEW_ID);
    expect(created).toEqual({ id: NEW_ID, ok: true, version: etagOf(row), created: true });
    expect(row).toMatchObject({ fullname: 'New Lead', companyname: 'Acme', _createdby_value: sim.users.sync.id });
    const [again] = await crm.createRecords(lead, [{ id: NEW_ID, fields: { firstname: 'New', lastname: 'Lead' } }]);
    expect(again).toMatchObject({ id: NEW_ID, ok: false, kind: 'exists', status: 412 });
  });

  it('creates many in one batch, each on its own', async () => {
    const sim = msw.simulate({ contacts: 5 });
    const { crm } = adapterFor(sim);
    const ids = ['1a1a1a1a-0000-4000-8000-000000000001', '1a1a1a1a-0000-4000-8000-000000000002', '1a1a1a1a-0000-4000-8000-000000000003'];
    await crm.createRecords(lead, [{ id: ids[1]!, fields: { lastname: 'first' } }]);
    sim.control.clearRequestLog();
    const results: CrmWriteResult[] = await crm.createRecords(
      lead,
      ids.map((id, i) => ({ id, fields: { lastname: `L${i}` } })),
    );
    expect(results.map((r) => (r.ok ? 'ok' : r.kind))).toEqual(['ok', 'exists', 'ok']);
    expect(writes(sim)).toHaveLength(1);
    expect(sim.control.getRow('lead', ids[2]!)?.lastname).toBe('L2');
  });

  it('refuses to create one-way entities before sending anything (R5)', async () => {
    const sim = msw.simulate({ contacts: 5 });
    const { crm } = adapterFor(sim);
    sim.control.clearRequestLog();
    const error = await failure(crm.createRecords(account, [{ id: NEW_ID, fields: { name: 'Nope' } }]));
    expect(error.code).toBe('CRM_CREATE_REFUSED');
    expect(error.message).toMatch(/^\[dynamics-adapter\]/);
    expect(sim.control.requestLog()).toEqual([]);
  });

  it('refuses unknown fields and fields not valid for create before sending anything', async () => {
    const sim = msw.simulate({ contacts: 5 });
    const { crm } = adapterFor(sim);
    expect((await failure(crm.createRecords(lead, [{ id: NEW_ID, fields: { lastname: 'x', score: 1 } }]))).code).toBe('FIELD_NOT_IN_CRM');
    expect((await failure(crm.createRecords(lead, [{ id: NEW_ID, fields: { lastname: 'x', fullname: 'y' } }]))).code).toBe('FIELD_NOT_UPDATABLE');
    expect(writes(sim)).toEqual([]);
  });
});
