import type { EntityDefinition } from '../entities.js';
import { SyncError } from '../errors.js';
import type { FieldMap } from '../values.js';
import type { FieldPlan } from './fields.js';

/**
 * R5: only two-way entities (persons) may be created in the CRM; accounts, users, opportunities,
 * teams and custom entities never are. Throws CRM_CREATE_REFUSED before anything is sent.
 */
export function assertCanCreateInCrm(entity: EntityDefinition): void {
  if (entity.direction !== 'both') {
    throw new SyncError(
      'CRM_CREATE_REFUSED',
      `Refusing to create a ${entity.name} in the CRM: ${entity.name} syncs one way, from the CRM to local (R5: crm-sync never creates accounts or records of one-way entities in the CRM)`,
      { details: { entity: entity.name } },
    );
  }
}

/**
 * R8 and R6 for a push: every field must exist in the CRM and be updatable by the sync user.
 * Throws FIELD_NOT_IN_CRM or FIELD_NOT_UPDATABLE naming the fields; nothing is sent.
 */
export function assertPushable(entity: EntityDefinition, fields: FieldMap, plan: FieldPlan): void {
  assertCanCreateInCrm(entity);
  const synced = new Set(plan.synced);
  const pushable = new Set(plan.pushable);
  const names = Object.keys(fields);
  const missing = names.filter((f) => !synced.has(f) && !plan.excluded.some((e) => e.field === f));
  if (missing.length > 0) {
    throw new SyncError(
      'FIELD_NOT_IN_CRM',
      `Refusing to push ${entity.name} field(s) ${missing.join(', ')}: not CRM fields (crm-sync never creates fields in the CRM)`,
      { details: { entity: entity.name, fields: missing } },
    );
  }
  const readOnly = names.filter((f) => !pushable.has(f));
  if (readOnly.length > 0) {
    throw new SyncError(
      'FIELD_NOT_UPDATABLE',
      `Refusing to push ${entity.name} field(s) ${readOnly.join(', ')}: the sync user may not update them or they are not synced`,
      { details: { entity: entity.name, fields: readOnly } },
    );
  }
}

/** The part of `fields` that may be pushed (R6, R8): pushable fields only. */
export function pushableSubset(fields: FieldMap, plan: FieldPlan): FieldMap {
  const pushable = new Set(plan.pushable);
  return Object.fromEntries(Object.entries(fields).filter(([f]) => pushable.has(f)));
}
