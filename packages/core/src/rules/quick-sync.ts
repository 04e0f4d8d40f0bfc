/**
 * R10: the synced fields that existing records do not hold yet, to backfill by Quick Sync. Before
 * the entity's first full read (`recorded` null: no synced-field list stored, or no checkpoint) there
 * is nothing to backfill: that read brings every field.
 */
export function fieldsToBackfill(synced: readonly string[], recorded: readonly string[] | null): string[] {
  if (recorded === null) return [];
  return synced.filter((f) => !recorded.includes(f));
}
