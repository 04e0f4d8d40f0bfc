import type { ActivityInput, LocalRecord } from '../contracts/store.js';
import type { EntityDefinition } from '../entities.js';
import type { FieldChange } from './merge.js';

/** What a push does with a record of the outbox of a two-way entity (R12, R14). */
export type PushAction =
  | { kind: 'none' }
  | { kind: 'create' }
  | { kind: 'update' }
  | { kind: 'refused'; reason: string };

/**
 * R14: a local person marked for sync with no CRM id is created in the CRM, as a lead, with its local
 * id (matching is by CRM id, never by email); a local contact without a CRM id is refused. A record
 * with a CRM id is updated, unless it was deleted in the CRM (R12: nothing to push to). A local
 * person not (or no longer) marked for sync is not pushed.
 */
export function pushAction(entity: EntityDefinition, record: LocalRecord): PushAction {
  if (record.crmDeleted || (record.crmId === null && !record.syncToCrm)) return { kind: 'none' };
  if (record.crmId !== null) return { kind: 'update' };
  return entity.name === 'lead'
    ? { kind: 'create' }
    : { kind: 'refused', reason: `a local ${entity.name} cannot be created in the CRM; persons are created as leads` };
}

/**
 * R7: person field changes log a Change Data Value activity each, with their source (the CRM on a
 * pull, a local edit). Records that are not persons log none.
 */
export function changeActivities(
  entity: EntityDefinition,
  recordId: string,
  changes: readonly FieldChange[],
  source: 'crm' | 'local',
): ActivityInput[] {
  if (entity.kind !== 'person') return [];
  return changes.map((c) => ({
    entity: entity.name, recordId, type: 'change-data-value', source, field: c.field, oldValue: c.oldValue, newValue: c.newValue,
  }));
}

/**
 * R14, R7: the activity of a person new to the marketing side (from a pull, or created locally).
 * Records that are not persons log none.
 */
export function newPersonActivities(entity: EntityDefinition, recordId: string, source: 'crm' | 'local'): ActivityInput[] {
  return entity.kind === 'person' ? [{ entity: entity.name, recordId, type: 'new-person', source }] : [];
}

/** A person whose CRM row could not be applied says so in its activity log; other records do not log. */
export function syncFailedActivities(entity: EntityDefinition, recordId: string, reason: string): ActivityInput[] {
  return entity.kind === 'person' ? [{ entity: entity.name, recordId, type: 'sync-failed', source: 'sync', detail: reason }] : [];
}
