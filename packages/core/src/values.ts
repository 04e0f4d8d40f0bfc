/**
 * A field value as both sides store it: text, numbers (money included), booleans, ISO-8601 date
 * strings, GUIDs of lookups as strings, and null for "no value".
 */
export type FieldValue = string | number | boolean | null;

/** Field values by field (attribute) logical name. */
export type FieldMap = Record<string, FieldValue>;

/** Value equality for merge decisions: absent and null are the same ("no value"). */
export function sameValue(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  return (a ?? null) === (b ?? null);
}

/** The value of a field in a map, with absent read as null. */
export function valueOf(map: FieldMap, field: string): FieldValue {
  return Object.hasOwn(map, field) ? (map[field] ?? null) : null;
}

export function isFieldValue(value: unknown): value is FieldValue {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}
