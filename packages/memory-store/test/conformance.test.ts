import { expect, it } from 'vitest';
import { storeConformance } from '@crm-sync/store-testkit';
import { createMemoryStore, createMemoryStoreData } from '../src/index.js';

storeConformance('memory', async () => {
  const data = createMemoryStoreData();
  return {
    store: createMemoryStore({ data }),
    raw: {
      async readRecord(entity, id) {
        const r = data.tables.get(entity)?.records.get(id);
        return r ? { id: r.id, crmId: r.crmId, fields: r.fields, revision: r.revision } : null;
      },
      async readCheckpoint(entity) {
        return data.checkpoints.get(entity) ?? null;
      },
      async countActivities() {
        return data.activities.length;
      },
    },
  };
}, {
  // The kit checks the optional reads only on a store that has them: this one must.
  additionalTests: (ctx) =>
    it('offers the optional listState and leaseOwners', () =>
      ctx.withStore(async (store) => {
        expect(typeof store.listState).toBe('function');
        expect(typeof store.leaseOwners).toBe('function');
      })),
});
