import type { SyncStore } from '../contracts/store.js';
import { SyncError } from '../errors.js';
import { fencedStore } from '../store/define-store.js';

/** This runner's entity leases when several runners share a store (R3 across processes). */
export interface Leases {
  /** The store whose commits for the entities held carry this runner's lease (fencing). */
  readonly store: SyncStore;
  /** Takes or renews the entity's lease: false when another runner holds it. Always true on a store without leases. */
  acquire(entity: string): Promise<boolean>;
  /** The lease was lost (LEASE_LOST): commits for the entity stop carrying it. */
  lost(entity: string): void;
  /** Hands every entity held over at once instead of after its lease expires. */
  releaseAll(): Promise<void>;
}

export function createLeases(store: SyncStore, owner: string, ttlMs: number): Leases {
  const useLeases = store.capabilities.leases;
  if (useLeases && (typeof store.acquireLease !== 'function' || typeof store.releaseLease !== 'function')) {
    throw new SyncError('CONFIG_INVALID', `[${store.name}] The store says it has leases (capabilities.leases) but has no acquireLease/releaseLease`);
  }
  // Entities this runner holds the lease of; every commit for them carries the lease (fencing).
  const held = new Set<string>();
  return {
    store: fencedStore(store, (entity) => (held.has(entity) ? { owner, ttlMs } : undefined)),
    async acquire(entity) {
      if (!useLeases) return true;
      // Several runners: only the holder of the entity's lease syncs it.
      if (!(await store.acquireLease?.(entity, { owner, ttlMs }))) {
        held.delete(entity);
        return false;
      }
      held.add(entity);
      return true;
    },
    lost(entity) {
      held.delete(entity);
    },
    async releaseAll() {
      for (const entity of held) await store.releaseLease?.(entity, owner).catch(() => undefined);
      held.clear();
    },
  };
}
