import type { CrmRecord } from '../contracts/crm.js';
import type { ActivityInput, LocalRecord, RecordWrite } from '../contracts/store.js';
import type { EntityDefinition } from '../entities.js';
import type { FieldMap } from '../values.js';
import { accountLinkOf } from '../entities.js';
import { sameValue } from '../values.js';

/**
 * R11: a record with the filter field explicitly false is not synced; null, absent or true syncs.
 * Entities without a filter field always sync.
 */
export function passesSyncFilter(entity: EntityDefinition, fields: FieldMap): boolean {
  const field = entity.syncFilterField;
  return field === null || fields[field] !== false;
}

/**
 * R13: a pulled row is an echo of the sync's own write (or a replay of a page already applied) when
 * the local record already holds this CRM version and every value of the row. Echoes are not
 * applied or logged again. A row at the pushed version that carries values the CRM computed (a
 * fullname after a firstname was pushed, the defaults of a created lead) is not an echo: it goes
 * through the merge, which finds nothing changed for the pushed fields and takes the rest.
 */
export function isEcho(local: LocalRecord | undefined, row: CrmRecord): boolean {
  if (local === undefined || local.crmVersion === null || local.crmVersion !== row.version) return false;
  return Object.entries(row.fields).every(([field, value]) => sameValue(local.fields[field], value));
}

/**
 * R12: a record deleted in the CRM is kept locally and flagged, once. Returns false when there is
 * nothing to do (unknown locally, or already flagged). A local delete never reaches the CRM: the
 * CRM contract has no delete operation at all.
 */
export function shouldFlagCrmDelete(local: LocalRecord | undefined): local is LocalRecord {
  return local !== undefined && !local.crmDeleted;
}

/**
 * R12: what a CRM delete does to the local record: it is kept, flagged as deleted in the CRM, its
 * pending changes dropped (there is nothing left to push them to), and an activity says why
 * (`detail`: a delta's delete, a full read that no longer holds it, a push answered "not found").
 */
export function crmDeletion(entity: string, local: LocalRecord, detail: string | null): { write: RecordWrite; activity: ActivityInput } {
  return {
    write: { id: local.id, expectedRevision: local.revision, crmDeleted: true, pending: [] },
    activity: { entity, recordId: local.id, type: 'crm-deleted', source: 'crm', ...(detail === null ? {} : { detail }) },
  };
}

/**
 * R12 safety: a complete full read that did not contain `unseen` of `total` local records is not
 * trusted to flag them all as deleted when they are more than `maxShare` of the table (and more than
 * ten): a read that lost rows (privileges, a filter, a fault) must never mass-flag a table.
 */
export function reconcileRefused(unseen: number, total: number, maxShare: number): boolean {
  return unseen > 10 && unseen > Math.floor(total * maxShare);
}

/**
 * R12: a local change of CRM fields of a record deleted in the CRM could never be pushed, so it is
 * refused rather than dropped. Returns the fields refused (none: the edit may go ahead; local-only
 * fields of such a record stay editable).
 */
export function refusedAfterCrmDelete(record: LocalRecord, pushable: readonly string[]): string[] {
  return record.crmDeleted ? [...pushable] : [];
}

/**
 * R15: the account a row belongs to, from the entity's account-link lookup, only when it points
 * to an account (a contact's parentcustomerid may point to another contact).
 */
export function accountIdOf(entity: EntityDefinition, row: CrmRecord): string | null {
  const link = accountLinkOf(entity);
  if (!link) return null;
  const lookup = row.lookups[link.field];
  return lookup && lookup.entity === 'account' ? lookup.id : null;
}
