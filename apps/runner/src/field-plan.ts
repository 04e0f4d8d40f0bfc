import type { FieldPlan } from '@crm-sync/core';

export type EntityFieldPlan = FieldPlan & { entity: string; changeTracking: boolean };

/** The reasons in words, for a field whose CRM gave none of its own; a reason core adds later shows as its code. */
export const EXCLUSION_REASONS: Readonly<Record<string, string>> = {
  'not-selected': 'not selected in sync.entities.<entity>.fields',
  'system-column': 'CRM bookkeeping column, left out of "all" (name it in sync.entities.<entity>.fields to sync it)',
  'not-valid-for-read': 'not valid for read in the CRM',
  'secured-no-read-privilege': 'secured column; the sync user has no read privilege (field security profile)',
};

/**
 * A field plan for people: what syncs, what is pushed, what is left out and why. Each left-out field
 * gets one reason: the CRM's or adapter's own words when it gave any (they say which privilege or
 * which property), else the generic text of its reason code.
 */
export function formatFieldPlan(plan: EntityFieldPlan): string {
  const lines = [
    `${plan.entity} (change tracking ${plan.changeTracking ? 'on' : 'off'})`,
    `  synced (${plan.synced.length}): ${plan.synced.join(', ') || '-'}`,
    `  pushed to the CRM (${plan.pushable.length}): ${plan.pushable.join(', ') || '-'}`,
  ];
  if (plan.excluded.length > 0) {
    lines.push(`  left out (${plan.excluded.length}):`);
    const width = Math.max(...plan.excluded.map((e) => e.field.length));
    for (const e of plan.excluded) {
      const generic = EXCLUSION_REASONS[e.reason]?.replace('<entity>', plan.entity) ?? e.reason;
      lines.push(`    ${e.field.padEnd(width)}  ${e.detail ?? generic}`);
    }
  }
  if (plan.unknown.length > 0) lines.push(`  selected but not in the CRM: ${plan.unknown.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
