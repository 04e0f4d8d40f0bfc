import { createSyncEngine, isSyncError } from '@crm-sync/core';
import type { ChangePage, CrmAdapter, SyncEngine } from '@crm-sync/core';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import { afterEach, describe, expect, it } from 'vitest';
import { customEntities, fakeCrmWithEmbeddedStore, fakeCrmWithMemoryStore, fakeCrmWithPostgresStore } from '../src/harness.js';
import type { World } from '../src/world.js';
import { createWorld, newId } from '../src/world.js';

/**
 * A CRM whose faults an operator fixes: `refused` records are refused on push (a CRM-side validation
 * rule), `unreadable` rows arrive damaged on every read (a column of a wrong type) until removed.
 */
function faultyCrm(base: CrmAdapter) {
  const refused = new Set<string>();
  const unreadable = new Set<string>();
  const damage = <T extends { upserts?: ChangePage['upserts']; rows?: ChangePage['upserts']; rejected: ChangePage['rejected'] }>(page: T): T => {
    const rows = page.upserts ?? page.rows ?? [];
    const bad = rows.filter((r) => unreadable.has(r.id));
    const good = rows.filter((r) => !unreadable.has(r.id));
    const rejected = [...page.rejected, ...bad.map((r) => ({ id: r.id, reason: 'a value of the wrong type: expected text, got a number', raw: r }))];
    return { ...page, ...(page.upserts ? { upserts: good } : { rows: good }), rejected };
  };
  const adapter: CrmAdapter = {
    ...base,
    describeEntity: (e, o) => base.describeEntity(e, o),
    readAll: (e, r) => base.readAll(e, r),
    createRecords: (e, c) => base.createRecords(e, c),
    async *pullChanges(entity, request) {
      for await (const page of base.pullChanges(entity, request)) yield damage(page);
    },
    async readRecords(entity, request) {
      return damage(await (base.readRecords as NonNullable<CrmAdapter['readRecords']>)(entity, request));
    },
    async updateRecords(entity, updates) {
      const sent = updates.filter((u) => !refused.has(u.id));
      const results = await base.updateRecords(entity, sent);
      return updates.map((u) =>
        refused.has(u.id)
          ? { id: u.id, ok: false as const, kind: 'rejected' as const, message: 'A CRM validation rule refused the record: subject may not start with "x"', status: 400 }
          : (results[sent.indexOf(u)] as (typeof results)[number]));
    },
  };
  return { adapter, refused, unreadable };
}

describe.each([fakeCrmWithMemoryStore, fakeCrmWithPostgresStore(testDatabaseUrl()), fakeCrmWithEmbeddedStore])('replay of quarantined records: $name', (harness) => {
  let world: World | undefined;
  let engine: SyncEngine | undefined;
  afterEach(async () => {
    await engine?.stop();
    await world?.close();
  });

  it('applies what was fixed and resolves its entry; a still-broken one stays open with its reason', async () => {
    const w = (world = await createWorld(harness));
    const crm = faultyCrm(w.crm.adapter);
    engine = createSyncEngine({ adapter: crm.adapter, store: w.store, config: { customEntities }, runnerId: w.engine.runnerId });
    const [fixed, broken, contact] = [newId(), newId(), newId()];
    await w.crm.put('lead', fixed, { lastname: 'Fixed' });
    await w.crm.put('lead', broken, { lastname: 'Broken' });
    await w.crm.put('contact', contact, { lastname: 'Readable' });
    await engine.runCycle();

    // Two refused pushes and a row that cannot be read.
    crm.refused.add(fixed).add(broken);
    crm.unreadable.add(contact);
    await engine.editLocal('lead', fixed, { fields: { subject: 'x-fixed' } });
    await engine.editLocal('lead', broken, { fields: { subject: 'x-broken' } });
    await w.crm.put('contact', contact, { lastname: 'Changed in the CRM' });
    const cycle = await engine.runCycle();
    expect(cycle.entities.find((e) => e.entity === 'lead')?.quarantined).toBe(2);
    expect(cycle.entities.find((e) => e.entity === 'contact')?.quarantined).toBe(1);
    const open = async () => (await w.store.listQuarantine({ limit: 100 })).items;
    const entries = (await open()).map((q) => [q.recordId, q.direction]);
    expect(entries).toHaveLength(3);
    expect(entries).toEqual(expect.arrayContaining([[fixed, 'push'], [broken, 'push'], [contact, 'pull']]));
    // A cycle does not send a refused push again: it waits for a person.
    await engine.runCycle();
    expect((await w.crm.get('lead', fixed))?.subject).toBeUndefined();

    // Ids that name no open entry: refused, nothing retried.
    const unknown = await engine.replay({ seqs: [999_999] }).catch((e: unknown) => e);
    expect(isSyncError(unknown, 'QUARANTINE_ENTRY_UNKNOWN')).toBe(true);
    expect((unknown as Error).message).toContain('999999');
    // A time range before every entry matches nothing.
    expect((await engine.replay({ until: '2000-01-01T00:00:00Z' })).matched).toBe(0);

    // The CRM's rule is fixed for one lead: a replay by entity pushes both, one goes through.
    crm.refused.delete(fixed);
    const leads = await engine.replay({ entity: 'lead' });
    expect(leads).toMatchObject({ matched: 2, applied: 1, failed: 1, skipped: 0 });
    expect(leads.entries.find((e) => e.recordId === fixed)).toMatchObject({ outcome: 'applied', reason: null });
    expect(leads.entries.find((e) => e.recordId === broken)).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('validation rule') as unknown as string });
    expect((await w.crm.get('lead', fixed))?.subject).toBe('x-fixed');
    expect((await w.crm.get('lead', broken))?.subject).toBeUndefined();
    const all = (await w.store.listQuarantine({ limit: 100, includeResolved: true })).items;
    expect(all.find((q) => q.recordId === fixed)?.resolvedAt).not.toBeNull();
    // Every entry of the still-broken record stays open (a failed replay may add one with the CRM's current reason).
    const brokenEntries = all.filter((q) => q.recordId === broken);
    expect(brokenEntries.length).toBeGreaterThan(0);
    expect(brokenEntries.every((q) => q.resolvedAt === null)).toBe(true);
    expect((await w.activities('lead', fixed)).at(-1)).toMatchObject({ type: 'replay', source: 'sync', detail: expect.stringMatching(/\(push\): applied$/) as unknown as string });
    expect((await w.activities('lead', broken)).at(-1)?.detail).toMatch(/\(push\): failed: A CRM validation rule refused/);

    // The row reads fine again: a replay by reason applies the CRM's value and closes the entry.
    crm.unreadable.delete(contact);
    const byReason = await engine.replay({ reason: 'WRONG TYPE' });
    expect(byReason).toMatchObject({ matched: 1, applied: 1 });
    expect((await w.local('contact', contact))?.fields.lastname).toBe('Changed in the CRM');
    expect((await open()).map((q) => q.recordId)).toEqual([broken, broken]);
    // By ids: the one left is still refused and stays open.
    const byId = await engine.replay({ seqs: [(await open())[0]?.seq as number] });
    expect(byId).toMatchObject({ matched: 1, applied: 0, failed: 1 });
    expect((await open()).every((q) => q.recordId === broken)).toBe(true);
  });
});
