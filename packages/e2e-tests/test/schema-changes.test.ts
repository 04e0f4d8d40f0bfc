import { afterEach, describe, expect, it } from 'vitest';
import { fakeCrmWithMemoryStore } from '../src/harness.js';
import { simulatorCrm } from '../src/simulator-harness.js';
import type { World } from '../src/world.js';
import { createWorld, newId } from '../src/world.js';

/**
 * R9 through the CRM's own feed of column changes (RetrieveMetadataChanges against the simulator over
 * HTTP): each change is told on its own with what it means for the sync, a synced column removed or
 * given another type stops safely (values kept, reason given), and a quiet cycle checks every entity
 * with one request.
 */
describe('schema changes from the CRM feed, against the simulator over HTTP', () => {
  let world: World | undefined;
  let crm: Awaited<ReturnType<typeof simulatorCrm>>;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  const setup = async () => {
    world = await createWorld({ name: 'simulator', crm: async () => (crm = await simulatorCrm()), store: fakeCrmWithMemoryStore.store });
    crm.control.addColumn('contact', { logicalName: 'new_tier', type: 'String' });
    const id = newId();
    await world.crm.put('contact', id, { firstname: 'Ann', jobtitle: 'Buyer', new_tier: 'gold' });
    await world.cycle();
    const local = await world.local('contact', id);
    expect(local?.fields).toMatchObject({ jobtitle: 'Buyer', new_tier: 'gold' });
    return { w: world, id };
  };

  /** The Web API paths sent since the last call, without ids and queries. */
  const sent = () => {
    const paths = crm.control.requestLog({ limit: 10_000 }).map((e) => new URL(e.url).pathname.replace('/api/data/v9.2/', '').replace(/\(.*$/, ''));
    crm.control.clearRequestLog();
    return paths;
  };

  it('tells each change with what it means, stops a removed or retyped synced column with its values kept, and resumes one added again', async () => {
    const { w, id } = await setup();
    crm.control.changeColumnType('contact', { logicalName: 'new_tier', type: 'Integer' });
    crm.control.removeColumn('contact', 'jobtitle');
    crm.control.addColumn('contact', { logicalName: 'new_segment', type: 'String' });
    await w.crm.put('contact', id, { firstname: 'Ann B' });
    const summary = await w.cycle();
    expect(summary.entities.find((e) => e.entity === 'contact')?.status).toBe('ok');

    const told = (await w.activities('contact', '*')).filter((a) => a.type === 'schema-drift').map((a) => a.detail);
    expect(told).toEqual(
      expect.arrayContaining([
        'new CRM column contact.new_segment: synced (selection "all"; existing records are backfilled by Quick Sync)',
        'CRM column contact.jobtitle was removed; contact.jobtitle is no longer synced: no longer in the CRM; local values are kept',
        'CRM column contact.new_tier changed type from String to Integer; contact.new_tier is no longer synced: the CRM changed its type, so its sync stopped; local values are kept (`crm-sync fields add` syncs the new type)',
      ]),
    );
    // Told once each: the comparison of definitions does not tell them again.
    expect(told.filter((d) => d?.includes('new_segment'))).toHaveLength(1);
    expect(told.filter((d) => d?.includes('jobtitle'))).toHaveLength(1);

    const plan = await w.engine.fieldPlan('contact');
    expect(plan.excluded).toContainEqual({ field: 'new_tier', reason: 'type-changed', detail: 'the CRM changed its type from String to Integer' });
    const local = await w.local('contact', id);
    expect(local?.fields).toMatchObject({ firstname: 'Ann B', jobtitle: 'Buyer', new_tier: 'gold' });

    // It stays stopped cycle after cycle, until a person adds it again: then it syncs with its new type.
    crm.control.updateRow('contact', id, { new_tier: 3 });
    await w.cycle();
    expect((await w.local('contact', id))?.fields.new_tier).toBe('gold');
    await w.engine.addField('contact', 'new_tier');
    expect((await w.engine.fieldPlan('contact')).synced).toContain('new_tier');
    expect((await w.local('contact', id))?.fields.new_tier).toBe(3);
  });

  it('a quiet cycle checks the schema of every entity with one request and reads no definition', async () => {
    const { w } = await setup();
    sent();
    await w.cycle();
    const paths = sent();
    expect(paths.filter((p) => p === 'RetrieveMetadataChanges')).toHaveLength(1);
    expect(paths.filter((p) => p.startsWith('EntityDefinitions'))).toEqual([]);
  });
});
