import type { FieldHistoryInput, LocalRecord, QuarantineInput, RecordWrite } from '../contracts/store.js';
import { quickSyncHistory } from '../rules/history.js';
import { backfillValues, quickSyncActivity } from '../rules/quick-sync.js';
import type { EngineContext, EntityPlan } from './context.js';
import { commitWithRetry, stateKeys } from './context.js';

/**
 * R10 Quick Sync: reads the current CRM values of `fields` for every row and sets them on the
 * existing local records, without touching the checkpoint and without a Change Data Value per
 * record: one summary activity instead. Then records the fields as synced. Returns records updated.
 */
export async function backfillFields(
  ctx: EngineContext,
  ep: EntityPlan,
  fields: string[],
  signal?: AbortSignal,
): Promise<number> {
  const entity = ep.entity.name;
  let updated = 0;
  for await (const page of ctx.adapter.readAll(ep.entity, { fields, ...(signal ? { signal } : {}) })) {
    const batch = await commitWithRetry(ctx, async () => {
      const locals = new Map<string, LocalRecord>();
      for (const r of await ctx.store.getRecordsByCrmId(entity, page.rows.map((row) => row.id))) locals.set(r.crmId as string, r);
      const records: RecordWrite[] = [];
      const history: FieldHistoryInput[] = [];
      for (const row of page.rows) {
        const local = locals.get(row.id);
        if (!local) continue; // not synced yet: the pull brings it whole
        const values = backfillValues(fields, row.fields);
        records.push({ id: local.id, expectedRevision: local.revision, fields: values, base: values });
        history.push(...quickSyncHistory(entity, local.id, local.fields, values));
      }
      const quarantine: QuarantineInput[] = page.rejected.map((r) => ({
        entity, recordId: locals.get(r.id ?? '')?.id ?? r.id, direction: 'pull', reason: `Quick Sync: ${r.reason}`, payload: r.raw,
      }));
      return { entity, records, quarantine, ...(history.length > 0 ? { history } : {}) };
    });
    updated += batch.records?.length ?? 0;
    ctx.emit({ type: 'backfill-progress', entity, fields, records: updated });
    if (signal?.aborted) return updated;
  }
  await ctx.store.commit({
    entity,
    state: { [stateKeys.syncedFields(entity)]: ep.syncedState },
    activities: [quickSyncActivity(entity, fields, updated)],
  });
  return updated;
}
