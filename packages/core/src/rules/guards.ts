import type { CrmField } from '../contracts/crm.js';
import type { EntityDefinition } from '../entities.js';
import { SyncError } from '../errors.js';
import { syncsBothWays } from './direction.js';
import type { FieldMap } from '../values.js';
import type { FieldPlan } from './fields.js';

/**
 * R5: only two-way entities (persons) may be created in the CRM; accounts, users, opportunities,
 * teams and custom entities never are. Throws CRM_CREATE_REFUSED before anything is sent.
 */
export function assertCanCreateInCrm(entity: EntityDefinition): void {
  if (!syncsBothWays(entity)) {
    throw new SyncError(
      'CRM_CREATE_REFUSED',
      `Refusing to create a ${entity.name} in the CRM: ${entity.name} syncs one way, from the CRM to local (R5: crm-sync never creates accounts or records of one-way entities in the CRM)`,
      { details: { entity: entity.name } },
    );
  }
}

/**
 * R8 and R6 for a push: the part of `fields` that may be sent to the CRM: fields the sync user can
 * update. A local-only field (not in the CRM) is never pushed, and crm-sync never creates CRM fields.
 */
export function pushableSubset(fields: FieldMap, plan: FieldPlan): FieldMap {
  const pushable = new Set(plan.pushable);
  return Object.fromEntries(Object.entries(fields).filter(([f]) => pushable.has(f)));
}

/**
 * R6 and R8 for a local edit: which of the edited `fields` are pushed (the sync user can update them)
 * and which are refused, with the reason (CRM fields the sync user cannot update, or that are not
 * selected). Fields the CRM does not have are local-only: kept, never pushed.
 */
export function localEditFields(
  fields: readonly string[],
  plan: FieldPlan,
  crmFields: readonly CrmField[],
): { pushed: string[]; refused: Array<{ field: string; reason: string }> } {
  const pushable = new Set(plan.pushable);
  const known = new Map(crmFields.map((f) => [f.name, f]));
  return {
    pushed: fields.filter((f) => pushable.has(f)),
    refused: fields
      .filter((f) => known.has(f) && !pushable.has(f))
      .map((f) => ({ field: f, reason: known.get(f)?.reason ?? 'not updatable by the sync user or not selected' })),
  };
}
