import type { EntityDefinition } from '../entities.js';
import type { FieldMap, FieldValue } from '../values.js';
import { sameValue, valueOf } from '../values.js';
import { collisionWinner, syncsBothWays } from './direction.js';

/** A field whose local value changed, and where the new value came from. */
export interface FieldChange {
  field: string;
  oldValue: FieldValue;
  newValue: FieldValue;
}

export interface FieldCollision {
  field: string;
  localValue: FieldValue;
  crmValue: FieldValue;
  winner: 'local' | 'crm';
}

export interface MergeInput {
  entity: EntityDefinition;
  /** Synced fields to merge (R6); other fields are left alone. */
  fields: readonly string[];
  /** Last agreed values; a field absent here has no base yet (first sight, or a new field). */
  base: FieldMap;
  local: FieldMap;
  crm: FieldMap;
}

export interface MergeResult {
  /** New local values of the merged fields. */
  fields: FieldMap;
  /** New agreed values: what the CRM holds now, per field. */
  base: FieldMap;
  /** Fields whose local value differs from what the CRM holds after the merge (to push). */
  pending: string[];
  /** Local values that changed, taken from the CRM. */
  changes: FieldChange[];
  collisions: FieldCollision[];
}

/**
 * R2, per field, three-way: a side "changed" a field when its value differs from the last agreed
 * value. Changed on one side only: that side's value is kept. Changed on both to the same value:
 * agreed. Changed on both to different values: a collision, won by `collisionWinner` (local for
 * leads, CRM for contacts). With no base yet, the CRM value is taken.
 *
 * One-way entities (R1, `syncsBothWays`) take every merged field from the CRM, changed or not; a
 * local edit of a field the CRM also changed is still recorded as a collision that the CRM won.
 *
 * The new base is always the CRM value (that is what the CRM now holds); a local winner therefore
 * stays pending until pushed.
 */
export function mergeRecord(input: MergeInput): MergeResult {
  const { entity, base, local, crm } = input;
  const twoWay = syncsBothWays(entity);
  const result: MergeResult = { fields: {}, base: {}, pending: [], changes: [], collisions: [] };
  for (const field of input.fields) {
    const l = valueOf(local, field);
    const c = valueOf(crm, field);
    const hasBase = Object.hasOwn(base, field);
    const b = valueOf(base, field);
    const crmChanged = !hasBase || !sameValue(c, b);
    const localChanged = hasBase && !sameValue(l, b);
    let keepLocal = twoWay && !crmChanged;
    if (crmChanged && localChanged && !sameValue(l, c)) {
      const winner = collisionWinner(entity);
      result.collisions.push({ field, localValue: l, crmValue: c, winner });
      keepLocal = winner === 'local';
    }
    const value = keepLocal ? l : c;
    result.fields[field] = value;
    result.base[field] = c;
    if (!sameValue(value, l)) result.changes.push({ field, oldValue: l, newValue: value });
    if (twoWay && !sameValue(value, c)) result.pending.push(field);
  }
  return result;
}
