import type { FieldPlan } from '@crm-sync/core';

export type EntityFieldPlan = FieldPlan & { entity: string; changeTracking: boolean };

/** The reasons in words; a reason core adds later shows as its code. */
export const EXCLUSION_REASONS: Readonly<Record<string, string>> = {
  'not-selected': 'not selected in sync.entities.<entity>.fields',
  'system-column': 'CRM bookkeeping column, left out of "all" (select it by name to sync it)',
  'not-valid-for-read': 'not valid for read in the CRM',
  'secured-no-read-privilege': 'secured column; the sync user has no read privilege (field security profile)',
};

/** A field plan for people: what syncs, what is pushed, what is left out and why. */
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
      lines.push(`    ${e.field.padEnd(width)}  ${EXCLUSION_REASONS[e.reason] ?? e.reason}${e.detail ? ` (${e.detail})` : ''}`);
    }
  }
  if (plan.unknown.length > 0) lines.push(`  selected but not in the CRM: ${plan.unknown.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
