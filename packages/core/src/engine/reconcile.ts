import type { LocalRecord } from '../contracts/store.js';
import { SyncError } from '../errors.js';
import { crmDeletion, reconcileRefused } from '../rules/records.js';
import type { EngineContext } from './context.js';
import { stateKeys } from './context.js';

const PAGE = 1_000;

/**
 * R12 after a complete full read: records that have a CRM id but were not in snapshot `snapshotId`
 * were deleted in the CRM (or are no longer visible to the sync user); flag them, with an activity.
 * Refuses (RECONCILE_REFUSED, nothing flagged) when that would flag more than the configured share,
 * so a partial read can never mass-flag a table. Returns the number flagged.
 *
 * `inserted`: how many distinct records this snapshot created (a first load). When the entity holds
 * no more records than that, every record is one of them and was seen: nothing is listed.
 */
export async function reconcileDeletes(ctx: EngineContext, entity: string, snapshotId: string, inserted = 0): Promise<number> {
  const total = (await ctx.store.stats(entity)).records;
  if (inserted > 0 && total <= inserted) {
    await ctx.store.commit({ entity, state: { [stateKeys.reconcile(entity)]: null } });
    return 0;
  }
  let unseen = 0;
  for (let after: string | number | undefined; ; ) {
    const page = await ctx.store.listUnseen(entity, snapshotId, { limit: PAGE, ...(after !== undefined ? { after } : {}) });
    unseen += page.items.length;
    if (page.next === null) break;
    after = page.next;
  }
  if (reconcileRefused(unseen, total, ctx.config.reconcileMaxDeleteShare)) {
    throw new SyncError(
      'RECONCILE_REFUSED',
      `A full read of ${entity} did not contain ${unseen} of ${total} local records; flagging them as deleted in the CRM exceeds reconcileMaxDeleteShare (${ctx.config.reconcileMaxDeleteShare}). Nothing was flagged. Check the sync user's privileges, or raise the share to accept.`,
      { details: { entity, unseen, total } },
    );
  }
  let flagged = 0;
  for (;;) {
    const page = await ctx.store.listUnseen(entity, snapshotId, { limit: PAGE });
    const last = page.next === null;
    const deletions = page.items.map((r: LocalRecord) => crmDeletion(entity, r, 'not found in a full read of the CRM'));
    await ctx.store.commit({
      entity,
      records: deletions.map((d) => d.write),
      activities: deletions.map((d) => d.activity),
      ...(last ? { state: { [stateKeys.reconcile(entity)]: null } } : {}),
    });
    flagged += deletions.length;
    if (last) return flagged;
  }
}
