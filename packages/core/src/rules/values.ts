import type { CrmField, FieldValueKind } from '../contracts/crm.js';
import { SyncError } from '../errors.js';
import type { FieldMap, FieldValue } from '../values.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A date, or a date and time with an optional offset (what the CRM accepts for DateTime columns). */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

const isDate = (value: string): boolean => ISO_DATE.test(value) && !Number.isNaN(Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value));

/** What a value of each kind must be, in words, and the test; `other` is not checked. */
const KINDS: Record<Exclude<FieldValueKind, 'other'>, { expected: string; accepts: (value: Exclude<FieldValue, null>) => boolean }> = {
  text: { expected: 'text', accepts: (v) => typeof v === 'string' },
  integer: { expected: 'a whole number', accepts: (v) => Number.isInteger(v) },
  number: { expected: 'a number', accepts: (v) => typeof v === 'number' },
  boolean: { expected: 'true or false', accepts: (v) => typeof v === 'boolean' },
  datetime: { expected: 'an ISO-8601 date or date and time', accepts: (v) => typeof v === 'string' && isDate(v) },
  choice: { expected: 'an option value (a whole number)', accepts: (v) => Number.isInteger(v) },
  lookup: { expected: 'a record id (GUID)', accepts: (v) => typeof v === 'string' && GUID.test(v) },
  id: { expected: 'a GUID', accepts: (v) => typeof v === 'string' && GUID.test(v) },
};

const shown = (value: FieldValue): string => (typeof value === 'string' && value.length > 40 ? `"${value.slice(0, 37)}..."` : JSON.stringify(value));

/**
 * Why the CRM would refuse `value` for `field`, per its metadata (type, maximum length, option
 * values, required), or null when it would accept it. Constraints the adapter did not report are
 * not checked.
 */
export function valueProblem(field: CrmField, value: FieldValue): string | null {
  // Empty text clears a text column (the CRM stores null); for other types it is a wrong value.
  if (value === null || (value === '' && field.valueKind === 'text')) {
    return field.required ? 'required by the CRM: it cannot be cleared' : null;
  }
  const kind = field.valueKind === 'other' ? undefined : KINDS[field.valueKind];
  if (kind && !kind.accepts(value)) return `must be ${kind.expected} (a ${field.type} column), got ${shown(value)}`;
  if (typeof value === 'string' && field.maxLength !== undefined && value.length > field.maxLength) {
    return `${value.length} characters, the CRM accepts at most ${field.maxLength}`;
  }
  if (typeof value === 'number' && field.options !== undefined && !field.options.includes(value)) {
    return `${value} is not one of the CRM's option values (${field.options.join(', ')})`;
  }
  return null;
}

/**
 * A local change of CRM fields, checked against what the CRM will accept before anything is written
 * (a value it refuses would only be quarantined at the next push). Fields the schema does not have
 * (local-only, R8) are not checked. Throws FIELD_VALUE_INVALID naming each field and its limit.
 */
export function assertValuesAccepted(entity: string, values: FieldMap, fields: readonly CrmField[]): void {
  const byName = new Map(fields.map((f) => [f.name, f]));
  const issues: string[] = [];
  for (const [name, value] of Object.entries(values)) {
    const field = byName.get(name);
    const problem = field ? valueProblem(field, value) : null;
    if (problem) issues.push(`${entity}.${name}: ${problem}`);
  }
  if (issues.length > 0) {
    throw new SyncError('FIELD_VALUE_INVALID', `The CRM would refuse ${issues.length === 1 ? 'this value' : 'these values'}: ${issues.join('; ')}`, {
      details: { entity, issues },
    });
  }
}
