import { isSyncError } from '@crm-sync/core';
import type { SyncStore } from '@crm-sync/core';
import { expect } from 'vitest';
import { newRecord, rejection, uid } from './context.js';
import type { TestContext } from './types.js';

/** Stores without leases report `capabilities.leases: false`; the suite then checks only that. */
function withLeases(store: SyncStore): Required<Pick<SyncStore, 'acquireLease' | 'releaseLease'>> | null {
  if (!store.capabilities.leases) {
    expect(store.acquireLease).toBeUndefined();
    return null;
  }
  expect(typeof store.acquireLease).toBe('function');
  expect(typeof store.releaseLease).toBe('function');
  return { acquireLease: store.acquireLease!.bind(store), releaseLease: store.releaseLease!.bind(store) };
}

export const leaseTests = (ctx: TestContext) => ({
  'acquireLease(entity) gives the lease to one owner until it expires or is released': () =>
    ctx.withStore(async (store) => {
      const leases = withLeases(store);
      if (!leases) return;
      const entity = `contact-${uid()}`;
      expect(await leases.acquireLease(entity, { owner: 'runner-a', ttlMs: 60_000 })).toBe(true);
      expect(await leases.acquireLease(entity, { owner: 'runner-b', ttlMs: 60_000 })).toBe(false);
      expect(await leases.acquireLease(entity, { owner: 'runner-a', ttlMs: 60_000 })).toBe(true);
      expect(await leases.acquireLease(`other-${entity}`, { owner: 'runner-b', ttlMs: 60_000 })).toBe(true);
      await leases.releaseLease(entity, 'runner-b');
      expect(await leases.acquireLease(entity, { owner: 'runner-b', ttlMs: 60_000 })).toBe(false);
      await leases.releaseLease(entity, 'runner-a');
      expect(await leases.acquireLease(entity, { owner: 'runner-b', ttlMs: 60_000 })).toBe(true);
    }),

  'acquireLease(entity) takes over an expired lease': () =>
    ctx.withStore(async (store) => {
      const leases = withLeases(store);
      if (!leases) return;
      const entity = `lead-${uid()}`;
      // A lease is held while its expiry lies ahead: one taken for 0 ms has expired by the next call.
      expect(await leases.acquireLease(entity, { owner: 'dead-runner', ttlMs: 0 })).toBe(true);
      expect(await leases.acquireLease(entity, { owner: 'survivor', ttlMs: 60_000 })).toBe(true);
    }),

  'leaseOwners() names each owner of an unexpired lease once (optional)': () =>
    ctx.withStore(async (store) => {
      const leases = withLeases(store);
      if (!leases || !store.leaseOwners) return; // optional: a runner then takes itself for the only one
      const [a, b, gone, dead] = ['a', 'b', 'gone', 'dead'].map((n) => `owner-${n}-${uid()}`) as [string, string, string, string];
      const entity = `contact-${uid()}`;
      await leases.acquireLease(entity, { owner: a, ttlMs: 60_000 });
      await leases.acquireLease(`lead-${entity}`, { owner: a, ttlMs: 60_000 });
      await leases.acquireLease(`account-${entity}`, { owner: b, ttlMs: 60_000 });
      await leases.acquireLease(`team-${entity}`, { owner: gone, ttlMs: 60_000 });
      await leases.releaseLease(`team-${entity}`, gone);
      await leases.acquireLease(`opportunity-${entity}`, { owner: dead, ttlMs: 1 });
      await new Promise((r) => setTimeout(r, 20));
      // Other tests may hold leases in a shared store: only these owners are asserted.
      const owners = (await store.leaseOwners()).filter((o) => [a, b, gone, dead].includes(o));
      expect(owners).toEqual([a, b].sort());
    }),

  'commit(lease) writes only while the owner holds the lease, else LEASE_LOST and nothing written': () =>
    ctx.withStore(async (store) => {
      const leases = withLeases(store);
      if (!leases) return;
      const entity = `contact-${uid()}`;
      await leases.acquireLease(entity, { owner: 'zombie', ttlMs: 1 });
      await new Promise((r) => setTimeout(r, 20));
      await leases.acquireLease(entity, { owner: 'survivor', ttlMs: 60_000 });
      const id = uid();
      const error = await rejection(
        store.commit({ entity, lease: { owner: 'zombie', ttlMs: 60_000 }, records: [newRecord(id)], checkpoint: 'zombie-cp' }),
      );
      expect(isSyncError(error, 'LEASE_LOST')).toBe(true);
      expect(await store.getRecords(entity, [id])).toEqual([]);
      expect(await store.getCheckpoint(entity)).toBeNull();
      await store.commit({ entity, lease: { owner: 'survivor', ttlMs: 60_000 }, records: [newRecord(id)], checkpoint: 'cp' });
      expect(await store.getCheckpoint(entity)).toBe('cp');
      expect(await leases.acquireLease(entity, { owner: 'zombie', ttlMs: 60_000 })).toBe(false);
    }),
});
