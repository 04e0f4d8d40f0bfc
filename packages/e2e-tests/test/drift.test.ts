import { afterEach, describe, expect, it } from 'vitest';
import { fakeCrmWithMemoryStore } from '../src/harness.js';
import { simulatorCrm } from '../src/simulator-harness.js';
import type { World } from '../src/world.js';
import { createWorld, newId } from '../src/world.js';

/**
 * The CRM changes under the sync: change tracking off, a column the sync user can no longer read or
 * update, rows it can no longer read. Each gives a clear status and recovers or stops that entity
 * safely; nothing is lost silently.
 */
describe('CRM drift against the simulator over HTTP', () => {
  let world: World | undefined;
  let crm: Awaited<ReturnType<typeof simulatorCrm>>;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });
  const setup = async (adapterOptions: { reconcileEvery?: number } = {}) => {
    world = await createWorld({
      name: 'simulator',
      crm: async () => (crm = await simulatorCrm({}, adapterOptions)),
      store: fakeCrmWithMemoryStore.store,
    });
    return world;
  };

  /** A synced contact edited locally (new_riskscore 1 → 9, jobtitle 'Buyer'), then new_riskscore made read-only for the sync user. */
  const editThenLoseUpdate = async () => {
    const w = await setup();
    const riskscore = { table: 'contact', column: 'new_riskscore', userId: crm.syncUserId, canRead: true };
    crm.control.setFieldSecurity({ ...riskscore, canUpdate: true });
    const id = newId();
    await w.crm.put('contact', id, { firstname: 'Ann', new_riskscore: 1 });
    await w.cycle();
    await w.engine.editLocal('contact', id, { fields: { new_riskscore: 9, jobtitle: 'Buyer' } });
    crm.control.setFieldSecurity({ ...riskscore, canUpdate: false });
    return { w, id };
  };

  it('a table without change tracking still syncs changes (watermark) and finds deletes (full reads)', async () => {
    const w = await setup({ reconcileEvery: 2 });
    crm.control.setChangeTracking('contact', false);
    const [kept, changed, gone] = [newId(), newId(), newId()];
    for (const id of [kept, changed, gone]) await w.crm.put('contact', id, { firstname: 'Start' });
    await w.cycle();
    expect((await w.engine.fieldPlan('contact')).changeTracking).toBe(false);
    crm.control.advanceClock(1_100); // modifiedon has whole seconds: the change lands in a later second
    await w.crm.put('contact', changed, { firstname: 'Changed' });
    await w.crm.remove('contact', gone);
    await w.cycle();
    expect((await w.local('contact', changed))?.fields.firstname).toBe('Changed');
    // Deletes leave no trace without change tracking: the periodic full read finds them.
    for (let i = 0; i < 3 && !(await w.local('contact', gone))?.crmDeleted; i += 1) await w.cycle();
    expect((await w.local('contact', gone))?.crmDeleted).toBe(true);
    expect((await w.local('contact', kept))?.crmDeleted).toBe(false);
  });

  it('a column the sync user can no longer read leaves the selection with its reason; local values stay', async () => {
    const w = await setup();
    crm.control.setFieldSecurity({ table: 'contact', column: 'new_riskscore', userId: crm.syncUserId, canRead: true, canUpdate: true });
    const id = newId();
    await w.crm.put('contact', id, { firstname: 'Risky', new_riskscore: 7 });
    await w.cycle();
    expect((await w.local('contact', id))?.fields.new_riskscore).toBe(7);
    crm.control.setFieldSecurity({ table: 'contact', column: 'new_riskscore', userId: crm.syncUserId, canRead: false, canUpdate: false });
    await w.crm.put('contact', id, { firstname: 'Still risky' });
    const summary = await w.cycle();
    expect(summary.entities.find((e) => e.entity === 'contact')?.status).toBe('ok');
    const plan = await w.engine.fieldPlan('contact');
    expect(plan.excluded).toContainEqual(expect.objectContaining({ field: 'new_riskscore', reason: 'secured-no-read-privilege' }));
    const local = await w.local('contact', id);
    expect(local?.fields.firstname).toBe('Still risky');
    expect(local?.fields.new_riskscore).toBe(7); // not wiped by the null a hidden column reads as
  });

  it('a field the sync user can no longer update is quarantined on its own; the other changes are pushed', async () => {
    const { w, id } = await editThenLoseUpdate();
    // The plan still lists the field: the adapter finds out and refuses it alone, the rest goes at once.
    const summary = await w.cycle();
    expect(summary.entities.find((e) => e.entity === 'contact')).toMatchObject({ status: 'ok', quarantined: 1 });
    const open = async () => (await w.store.listQuarantine({ limit: 10, entity: 'contact' })).items;
    const [entry] = await open();
    expect(entry).toMatchObject({ recordId: id, direction: 'push', reason: expect.stringContaining('can no longer update new_riskscore'), payload: { new_riskscore: 9 } });
    expect(await w.crm.get('contact', id)).toMatchObject({ jobtitle: 'Buyer', new_riskscore: 1 });
    expect(await w.local('contact', id)).toMatchObject({ pending: [], fields: { jobtitle: 'Buyer', new_riskscore: 9 } });
    expect((await w.activities('contact', id)).filter((a) => a.type === 'sync-failed')).toHaveLength(1);

    // Not sent again, not quarantined again; the entry stays open.
    await w.cycle();
    expect(await open()).toEqual([entry]);

    // Now that the plan knows, a local edit of the field is refused when it is made.
    const error = await w.engine.editLocal('contact', id, { fields: { new_riskscore: 10 } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'LOCAL_EDIT_INVALID', message: expect.stringContaining('new_riskscore') });
    expect((await w.local('contact', id))?.fields.new_riskscore).toBe(9);
  });

  it('a field already known to be read-only when the push starts is held back; the other changes are pushed', async () => {
    const { w, id } = await editThenLoseUpdate();
    expect((await w.engine.fieldPlan('contact')).pushable).not.toContain('new_riskscore'); // a schema refresh before the cycle
    const summary = await w.cycle();
    expect(summary.entities.find((e) => e.entity === 'contact')).toMatchObject({ status: 'ok', pushed: 1, quarantined: 1 });
    const [entry, ...more] = (await w.store.listQuarantine({ limit: 10, entity: 'contact' })).items;
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ recordId: id, direction: 'push', reason: 'the sync user can no longer update new_riskscore', payload: { new_riskscore: 9 } });
    expect(await w.crm.get('contact', id)).toMatchObject({ jobtitle: 'Buyer', new_riskscore: 1 });
    expect(await w.local('contact', id)).toMatchObject({ pending: [], fields: { jobtitle: 'Buyer', new_riskscore: 9 } });
  });

  it('a delete whose delta row keeps losing its id is still flagged, by the full read that follows', async () => {
    const w = await setup();
    const [kept, gone] = [newId(), newId()];
    for (const id of [kept, gone]) await w.crm.put('contact', id, { lastname: 'Start' });
    await w.cycle();
    await w.crm.remove('contact', gone);
    crm.control.setFaults({ rules: [{ kind: 'keyless', rate: 1, path: '$deltatoken' }] });
    await w.cycle();
    expect((await w.local('contact', gone))?.crmDeleted).toBe(true);
    expect((await w.local('contact', kept))?.crmDeleted).toBe(false);
  });

  it('a full read holding a row without its key flags no deletes (any record could be that row)', async () => {
    const w = await setup();
    const ids = [newId(), newId(), newId()];
    for (const id of ids) await w.crm.put('contact', id, { lastname: 'Start' });
    await w.cycle();
    // Every contacts answer loses one key, however often it is read; the next read is a full one.
    crm.control.setFaults({ rules: [{ kind: 'keyless', rate: 1, path: '/contacts' }] });
    crm.control.expireDeltaTokens();
    await w.cycle();
    for (const id of ids) expect((await w.local('contact', id))?.crmDeleted).toBe(false);
    const quarantined = (await w.store.listQuarantine({ entity: 'contact', limit: 100 })).items;
    expect(quarantined.some((q) => q.recordId === null && /will not flag deletes/.test(q.reason))).toBe(true);
    // Once rows read fine again, a later full read reconciles as usual.
    crm.control.setFaults(null);
    await w.crm.remove('contact', ids[0]!);
    await w.cycle();
    expect((await w.local('contact', ids[0]!))?.crmDeleted).toBe(true);
  });

  it('rows the sync user can no longer read stop that entity with a clear error; nothing is flagged deleted', async () => {
    const w = await setup();
    const leads = [newId(), newId()];
    for (const id of leads) await w.crm.put('lead', id, { lastname: 'Visible' });
    await w.crm.put('contact', newId(), { lastname: 'Contact' });
    await w.cycle();
    crm.control.setRowFilter(crm.syncUserId, 'lead', `lastname eq 'Visible'`);
    const summary = await w.engine.runCycle();
    const lead = summary.entities.find((e) => e.entity === 'lead');
    expect(lead?.status).toBe('failed');
    expect(lead?.error?.code).toBe('CRM_AUTH_FAILED');
    expect(summary.entities.find((e) => e.entity === 'contact')?.status).toBe('ok');
    expect((await w.store.stats('lead')).crmDeleted).toBe(0);
    crm.control.setRowFilter(crm.syncUserId, 'lead', null);
    await w.cycle();
    expect((await w.store.stats('lead')).crmDeleted).toBe(0);
  });
});
