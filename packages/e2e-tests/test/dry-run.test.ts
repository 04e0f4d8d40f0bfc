import type { CycleSummary, DryRunReport, SyncStore } from '@crm-sync/core';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeCrmWithEmbeddedStore, fakeCrmWithMemoryStore, fakeCrmWithPostgresStore } from '../src/harness.js';
import type { World } from '../src/world.js';
import { createWorld, newId } from '../src/world.js';

const entities = ['account', 'contact', 'lead'];

/** Everything a cycle could change in the store: records, checkpoints, logs, quarantine, engine state. */
async function storeContents(store: SyncStore): Promise<unknown> {
  const all = { limit: 100_000 };
  const out: Record<string, unknown> = {
    activities: (await store.listActivities(all)).items,
    collisions: (await store.listCollisions(all)).items,
    quarantine: (await store.listQuarantine({ ...all, includeResolved: true })).items,
  };
  for (const e of entities) {
    out[e] = {
      records: (await store.listRecords(e, all)).items,
      checkpoint: await store.getCheckpoint(e),
      state: await Promise.all(['fields:synced:', 'reconcile:', 'fields:known:'].map((k) => store.getState(`${k}${e}`))),
    };
  }
  return out;
}

/** The CRM's rows of every entity, read as the sync user. */
async function crmContents(w: World): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const name of entities) {
    const entity = w.engine.registry.get(name);
    const schema = await w.crm.adapter.describeEntity(entity);
    const rows: unknown[] = [];
    for await (const page of w.crm.adapter.readAll(entity, { fields: schema.fields.filter((f) => f.canRead).map((f) => f.name) })) rows.push(...page.rows);
    out[name] = rows;
  }
  return out;
}

const counts = (s: CycleSummary['entities'][number]) => {
  const { durationMs: _d, ...rest } = s;
  return rest;
};

describe.each([fakeCrmWithMemoryStore, fakeCrmWithPostgresStore(testDatabaseUrl()), fakeCrmWithEmbeddedStore])('dry run: $name', (harness) => {
  let world: World | undefined;
  afterEach(async () => world?.close());

  it('plans a cycle without writing on either side, and the real cycle after it does what it said', async () => {
    const w = (world = await createWorld(harness));
    const acc = newId();
    const contacts = [newId(), newId(), newId()];
    const lead = newId();
    await w.crm.put('account', acc, { name: 'Acme', address1_city: 'Oslo' });
    for (const c of contacts) await w.crm.put('contact', c, { firstname: 'C', lastname: c.slice(0, 4) }, { parentcustomerid: { id: acc, entity: 'account' } });
    await w.crm.put('lead', lead, { lastname: 'Both', subject: 'old' });
    await w.cycle();

    // The next cycle has one of each: an account change fanned out, a new contact, a delete, a
    // collision, a pending local edit, and a local person to create in the CRM.
    const fresh = newId();
    await w.crm.put('account', acc, { address1_city: 'Bergen' });
    await w.crm.put('contact', fresh, { lastname: 'New' });
    await w.crm.remove('contact', contacts[2] as string);
    await w.engine.editLocal('lead', lead, { fields: { subject: 'local', firstname: 'Ada' } });
    await w.crm.put('lead', lead, { subject: 'crm' });
    const person = await w.engine.createPerson({ lastname: 'Person', emailaddress1: 'p@example.com' });

    const adapter = w.crm.adapter;
    let writes = 0;
    const update = adapter.updateRecords.bind(adapter);
    const create = adapter.createRecords.bind(adapter);
    adapter.updateRecords = async (e, u) => ((writes += 1), update(e, u));
    adapter.createRecords = async (e, c) => ((writes += 1), create(e, c));

    const lastBefore = w.engine.lastCycle;
    const storeBefore = await storeContents(w.store);
    const crmBefore = await crmContents(w);
    const plan: DryRunReport = await w.engine.dryRun();
    expect(writes).toBe(0);
    expect(await storeContents(w.store)).toEqual(storeBefore);
    expect(await crmContents(w)).toEqual(crmBefore);
    expect(w.engine.lastCycle).toBe(lastBefore);

    const of = (name: string) => plan.entities.find((e) => e.entity === name);
    expect(of('account')?.updated.items).toEqual([{ id: acc, fields: ['address1_city'] }]);
    expect(of('account')?.fanOuts.items).toEqual([{ entity: 'contact', accountId: acc, records: 3, changeDataValues: 3 }]);
    expect(of('contact')?.created.items).toEqual([{ id: fresh, fields: expect.arrayContaining(['lastname']) as unknown as string[] }]);
    expect(of('contact')?.deletes.items).toEqual([{ id: contacts[2], detail: null }]);
    expect(of('contact')?.skippedFields).toContainEqual({ field: 'new_creditlimit', reason: 'secured-no-read-privilege' });
    expect(of('lead')?.collisions.items).toEqual([{ recordId: lead, field: 'subject', localValue: 'local', crmValue: 'crm', winner: 'local' }]);
    expect(of('lead')?.pushes.items).toEqual(expect.arrayContaining([
      { id: lead, kind: 'update', fields: { subject: 'local', firstname: 'Ada' } },
      { id: person.id, kind: 'create', fields: { lastname: 'Person', emailaddress1: 'p@example.com' } },
    ]));
    expect(of('lead')?.crmRequests.writes).toBe(2);
    for (const e of plan.entities) expect(e.crmRequests.reads).toBeGreaterThan(0);

    const real = await w.cycle();
    for (const summary of real.entities) expect(counts(summary)).toEqual(counts(of(summary.entity)?.summary ?? summary));
    expect(writes).toBe(2);
    expect((await w.crm.get('lead', lead))?.subject).toBe('local');
    expect((await w.local('contact', contacts[2] as string))?.crmDeleted).toBe(true);
    expect((await w.local('contact', contacts[0] as string))?.company.address1_city).toBe('Bergen');

    // Nothing left to do: the plan of the next cycle is empty.
    const next = await w.engine.dryRun({ entities: ['lead'] });
    expect(next.entities.map((e) => [e.entity, e.pushes.total, e.created.total, e.updated.total])).toEqual([['lead', 0, 0, 0]]);
  });

  it('plans the deletes of a full read from what its pages would have stored (R12 reconciliation)', async () => {
    const w = (world = await createWorld(harness));
    const ids = Array.from({ length: 60 }, () => newId());
    for (const id of ids) await w.crm.put('contact', id, { lastname: id.slice(0, 6) });
    await w.cycle();
    // The delta token expires and the CRM forgets the delete: only a full read (two pages) finds it.
    await w.crm.remove('contact', ids[7] as string);
    await w.crm.expireTokensAndForgetDeletes();
    const before = await storeContents(w.store);
    const plan = await w.engine.dryRun({ entities: ['contact'] });
    expect(await storeContents(w.store)).toEqual(before);
    const contact = plan.entities[0];
    expect(contact?.summary).toMatchObject({ status: 'ok', deleted: 1, pages: 2 });
    expect(contact?.deletes.items).toEqual([{ id: ids[7], detail: 'not found in a full read of the CRM' }]);
    const real = await w.cycle(['contact']);
    expect(counts(real.entities[0] as CycleSummary['entities'][number])).toEqual(counts(contact?.summary as CycleSummary['entities'][number]));
    expect((await w.local('contact', ids[7] as string))?.crmDeleted).toBe(true);
  });
});
