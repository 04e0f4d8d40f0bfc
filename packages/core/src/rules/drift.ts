import type { CrmEntitySchema } from '../contracts/crm.js';
import type { FieldExclusionReason, FieldPlan } from './fields.js';

/** What changed in a CRM table since the sync last looked (R6, R9). */
export interface SchemaDrift {
  /** Columns the CRM has now and did not have: synced at once (an "all" selection), or why not. */
  added: Array<{ field: string; synced: boolean; reason?: FieldExclusionReason }>;
  /** Columns the CRM no longer has. */
  removed: string[];
  /** Fields that were synced and no longer are (lost read access, unselected, or removed), with why. */
  unsynced: Array<{ field: string; reason: FieldExclusionReason | 'removed-from-crm' }>;
}

/**
 * R9: compares the CRM's columns and the synced fields with what they were when last recorded
 * (`known`: column names, `synced`: synced fields; null when never recorded, so nothing is drift).
 * Null when nothing changed.
 */
export function schemaDrift(
  known: readonly string[] | null,
  synced: readonly string[] | null,
  schema: CrmEntitySchema,
  plan: FieldPlan,
): SchemaDrift | null {
  const columns = new Set(schema.fields.map((f) => f.name));
  const reasons = new Map(plan.excluded.map((e) => [e.field, e.reason]));
  const now = new Set(plan.synced);
  const before = known === null ? null : new Set(known);
  const added = before === null ? [] : [...columns].filter((f) => !before.has(f)).map((field) => {
    const reason = reasons.get(field);
    return reason === undefined ? { field, synced: now.has(field) } : { field, synced: false, reason };
  });
  const removed = before === null ? [] : [...before].filter((f) => !columns.has(f));
  const unsynced = (synced ?? []).filter((f) => !now.has(f)).map((field) => ({
    field, reason: reasons.get(field) ?? ('removed-from-crm' as const),
  }));
  return added.length + removed.length + unsynced.length === 0 ? null : { added, removed, unsynced };
}

export const REASONS: Record<FieldExclusionReason | 'removed-from-crm', string> = {
  'not-selected': 'not selected: add it to the sync with `crm-sync fields add`',
  'not-valid-for-read': 'not valid for read',
  'secured-no-read-privilege': 'secured column, the sync user has no read privilege; local values are kept',
  'system-column': 'CRM bookkeeping column, synced only when named',
  'removed-from-crm': 'no longer in the CRM; local values are kept',
  'type-changed': 'the CRM changed its type, so its sync stopped; local values are kept (`crm-sync fields add` syncs the new type)',
};

/** The drift in words, for the activity log and the runner's log. */
export function describeDrift(entity: string, drift: SchemaDrift): string {
  const parts: string[] = [];
  for (const a of drift.added) {
    parts.push(`new CRM column ${entity}.${a.field}: ${a.synced ? 'synced (selection "all"; existing records are backfilled by Quick Sync)' : REASONS[a.reason ?? 'not-selected']}`);
  }
  for (const field of drift.removed) parts.push(`CRM column ${entity}.${field} was removed`);
  for (const u of drift.unsynced) parts.push(`${entity}.${u.field} is no longer synced: ${REASONS[u.reason]}`);
  return parts.join('; ');
}
