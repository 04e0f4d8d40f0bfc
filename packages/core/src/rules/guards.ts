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
