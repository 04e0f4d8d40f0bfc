import type { SyncStore } from '../contracts/store.js';
import type { EngineContext } from './context.js';

/** The runners that share one CRM org, as the store's leases tell. */
export interface OrgShare {
  /** Runners counted: this one and every other owner of an unexpired lease. */
  runners: number;
  /** Their names (lease owners), this runner's included, sorted. */
  owners: string[];
}

/**
 * Counts the runners sharing the org (this one plus the other owners of unexpired leases: a hot
 * standby that holds no lease sends almost nothing and is not counted by the others) and tells the
 * adapter its share (`CrmAdapter.shareParallelism`). A store without `leaseOwners`: this runner alone.
 */
export async function shareOrg(ctx: EngineContext, store: SyncStore, runnerId: string): Promise<OrgShare> {
  const others = store.leaseOwners ? await store.leaseOwners().catch(() => [] as string[]) : [];
  const owners = [...new Set([...others, runnerId])].sort();
  ctx.adapter.shareParallelism?.(owners.length);
  return { runners: owners.length, owners };
}
