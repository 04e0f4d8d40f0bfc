import type { ActivityInput } from '../contracts/store.js';
import type { FieldMap } from '../values.js';

/**
 * R10: the synced fields that existing records do not hold yet, to backfill by Quick Sync. Before
 * the entity's first full read (`recorded` null: no synced-field list stored, or no checkpoint) there
 * is nothing to backfill: that read brings every field.
 */
export function fieldsToBackfill(synced: readonly string[], recorded: readonly string[] | null): string[] {
  if (recorded === null) return [];
  return synced.filter((f) => !recorded.includes(f));
}

/**
 * R10: what Quick Sync sets on an existing record: the CRM's current value of each backfilled field
 * (null when the row has none), with the same values as the merge base, so no collision follows.
 */
export function backfillValues(fields: readonly string[], row: FieldMap): FieldMap {
  return Object.fromEntries(fields.map((f) => [f, row[f] ?? null]));
}

/** R10: Quick Sync logs no Change Data Value per record: one summary activity on the entity instead. */
export function quickSyncActivity(entity: string, fields: readonly string[], updated: number): ActivityInput {
  return { entity, recordId: '*', type: 'quick-sync', source: 'sync', detail: `Quick Sync of ${fields.join(', ')}: ${updated} records updated from the CRM` };
}
