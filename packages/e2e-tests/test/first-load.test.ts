import { createSyncEngine } from '@crm-sync/core';
import type { ChangePage, CrmAdapter } from '@crm-sync/core';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import { afterEach, describe, expect, it } from 'vitest';
import { customEntities, fakeCrmWithMemoryStore, fakeCrmWithPostgresStore } from '../src/harness.js';
import type { World } from '../src/world.js';
import { createWorld, newId } from '../src/world.js';

/**
 * The first full read into an empty entity builds its pages without looking records up (they are
 * all new). A row that comes twice in that read (a table paged while it changes) must still end as
 * one record with one New Person activity: its second insert conflicts and the page is built again.
 */
describe.each([fakeCrmWithMemoryStore, fakeCrmWithPostgresStore(testDatabaseUrl())])('first load into an empty entity: $name', (harness) => {
  let world: World | undefined;
  afterEach(async () => world?.close());

  it('a row repeated on a later page of the first full read stays one record, with its later values', async () => {
    const w = (world = await createWorld(harness));
    const ids = Array.from({ length: 5 }, () => newId()).sort();
    for (const [i, id] of ids.entries()) await w.crm.put('lead', id, { firstname: `Lead ${i}`, lastname: 'Twice' });
    const base = w.crm.adapter;
    const repeated = ids[1] as string;
    // Each snapshot page of leads also carries `repeated` with a newer version and value.
    const adapter: CrmAdapter = {
      ...base,
      describeEntity: (entity, options) => base.describeEntity(entity, options),
      async *pullChanges(entity, request) {
        let n = 0;
        for await (const page of base.pullChanges(entity, request)) {
          n += 1;
          const row = page.upserts.find((r) => r.id === repeated) ?? null;
          const copy = entity.name === 'lead' && page.snapshot && n > 1 && !row
            ? [{ id: repeated, version: `9${n}`, fields: { ...page.upserts[0]?.fields, firstname: `Again ${n}` }, lookups: {}, bySyncUser: false, modifiedOn: null }]
            : [];
          yield { ...page, upserts: [...page.upserts, ...copy] } satisfies ChangePage;
        }
      },
    };
    (base as unknown as { pageSize: number }).pageSize = 2; // the fake CRM: pages of two rows
    const engine = createSyncEngine({ adapter, store: w.store, config: { customEntities } });
    const summary = await engine.runCycle();
    expect(summary.entities.find((e) => e.entity === 'lead')?.status).toBe('ok');
    expect((await w.store.stats('lead')).records).toBe(5);
    const local = await w.local('lead', repeated);
    expect(local?.fields.firstname).toBe('Again 3');
    const activities = (await w.store.listActivities({ limit: 100, entity: 'lead' })).items.filter((a) => a.type === 'new-person');
    expect(activities).toHaveLength(5);
    expect(new Set(activities.map((a) => a.recordId)).size).toBe(5);
  });
});
