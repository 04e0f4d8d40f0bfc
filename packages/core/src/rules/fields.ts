import type { CrmEntitySchema, CrmField } from '../contracts/crm.js';
import type { EntityDefinition } from '../entities.js';

/** Why a CRM field is not synced (R6). */
export type FieldExclusionReason = 'not-selected' | 'not-valid-for-read' | 'secured-no-read-privilege' | 'system-column' | 'type-changed';

/** Lookups are pulled (their target is set in the CRM) but never pushed. */
function isLookup(field: CrmField): boolean {
  return field.valueKind === 'lookup' || field.lookupTargets !== undefined;
}

export interface FieldExclusion {
  field: string;
  reason: FieldExclusionReason;
  /** The CRM's or adapter's own words, when it gave any. */
  detail?: string;
}

export interface FieldPlan {
  /** Fields read from the CRM and kept locally. */
  synced: string[];
  /** Synced fields the sync user may update, so local changes are pushed (persons only). */
  pushable: string[];
  /** Every CRM field left out, with the reason. */
  excluded: FieldExclusion[];
  /** Selected names the CRM does not have (typos, deleted columns, local-only fields: R8). */
  unknown: string[];
}

/**
 * R6: which fields sync. The selection defaults to every field the sync user can read; a field is
 * synced only if selected and readable, and pushed only if also updatable on a two-way entity.
 * Lookups are pulled but not pushed (their target is set in the CRM). CRM bookkeeping columns
 * (`systemMaintained`) join an "all" selection only when named.
 */
export function planFields(
  entity: EntityDefinition,
  schema: CrmEntitySchema,
  selection: readonly string[] | 'all',
  /** Fields stopped because the CRM changed their type (R9), with why: left out until added again. */
  stopped: Readonly<Record<string, string>> = {},
): FieldPlan {
  const selected = selection === 'all' ? null : new Set(selection);
  const plan: FieldPlan = { synced: [], pushable: [], excluded: [], unknown: [] };
  for (const field of schema.fields) {
    if (field.primaryKey === true) continue;
    if (!field.canRead) {
      plan.excluded.push({
        field: field.name,
        reason: field.secured ? 'secured-no-read-privilege' : 'not-valid-for-read',
        ...(field.reason ? { detail: field.reason } : {}),
      });
    } else if (stopped[field.name] !== undefined) {
      plan.excluded.push({ field: field.name, reason: 'type-changed', detail: stopped[field.name]! });
    } else if (selected && !selected.has(field.name)) {
      plan.excluded.push({ field: field.name, reason: 'not-selected' });
    } else if (!selected && field.systemMaintained === true) {
      plan.excluded.push({ field: field.name, reason: 'system-column' });
    } else {
      plan.synced.push(field.name);
      if (entity.direction === 'both' && field.canUpdate && !isLookup(field)) plan.pushable.push(field.name);
    }
  }
  if (selected) {
    const known = new Set(schema.fields.map((f) => f.name));
    plan.unknown = [...selected].filter((name) => !known.has(name));
  }
  return plan;
}

/** What adding a field to an entity's sync would do (`crm-sync fields add`, R6 and R10). */
export type FieldAddition =
  /** The selection leaves the field out; naming it brings it into the plan. */
  | { kind: 'add' }
  /** The plan already syncs it (it may still wait for its backfill). */
  | { kind: 'in-plan' }
  /** It cannot be synced this way; `reason` says why, for people. */
  | { kind: 'refused'; code: 'FIELD_NOT_IN_CRM' | 'FIELD_NOT_READABLE' | 'FIELD_NOT_ADDABLE'; reason: string };

/**
 * R6, R10: whether `field` can be added to the sync of `entity`, given the entity's CRM schema and
 * its current plan, and why not. A field the CRM does not have, the primary key, a field the sync
 * user cannot read, and a CRM bookkeeping column under the selection "all" (which names no field, so
 * a named one changes nothing: it must be listed in the configured selection) are refused.
 */
export function fieldAddition(entity: EntityDefinition, schema: CrmEntitySchema, plan: FieldPlan, field: string): FieldAddition {
  const name = `${entity.name}.${field}`;
  const crmField = schema.fields.find((f) => f.name === field);
  if (!crmField) {
    return { kind: 'refused', code: 'FIELD_NOT_IN_CRM', reason: `${name} does not exist in the CRM (crm-sync never creates CRM fields)` };
  }
  if (crmField.primaryKey === true) {
    return { kind: 'refused', code: 'FIELD_NOT_ADDABLE', reason: `${name} is the primary key: every record already carries it as its CRM id` };
  }
  if (plan.synced.includes(field)) return { kind: 'in-plan' };
  const exclusion = plan.excluded.find((e) => e.field === field);
  switch (exclusion?.reason) {
    case 'secured-no-read-privilege':
    case 'not-valid-for-read': {
      const why = exclusion.detail ?? (exclusion.reason === 'secured-no-read-privilege' ? 'secured column without read privilege' : 'not valid for read');
      return { kind: 'refused', code: 'FIELD_NOT_READABLE', reason: `${name} cannot be read by the sync user: ${why}` };
    }
    case 'system-column':
      return {
        kind: 'refused',
        code: 'FIELD_NOT_ADDABLE',
        reason: `${name} is a CRM bookkeeping column, left out of the selection "all" (it changes on every write); to sync it, list the fields of sync.entities.${entity.name}.fields, ${field} among them`,
      };
    default:
      return { kind: 'add' };
  }
}
