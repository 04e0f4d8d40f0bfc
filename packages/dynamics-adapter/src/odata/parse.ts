import { isFieldValue, SyncError } from '@crm-sync/core';
import type { CrmRecord, FieldMap, LookupValue, RejectedRow } from '@crm-sync/core';
import { isGuid, LOOKUP_ANNOTATION } from './query.js';
import { propertyOf } from './types.js';
import type { AttributeInfo } from './types.js';

/** One collection response: rows plus the links that continue it. */
export interface RawPage {
  rows: unknown[];
  nextLink: string | null;
  deltaLink: string | null;
}

/** Parses a collection body; anything but `{ value: [...] }` is CRM_RESPONSE_INVALID. */
export function parsePage(text: string, what: string): RawPage {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new SyncError('CRM_RESPONSE_INVALID', `[dynamics-adapter] ${what} returned a body that is not JSON (${text.length} bytes)`, {
      cause: error,
    });
  }
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { value?: unknown }).value)) {
    throw new SyncError('CRM_RESPONSE_INVALID', `[dynamics-adapter] ${what} returned JSON without a "value" array`);
  }
  const record = body as Record<string, unknown>;
  const link = (key: string): string | null => {
    const value = record[key];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string' || value === '') {
      throw new SyncError('CRM_RESPONSE_INVALID', `[dynamics-adapter] ${what} returned an invalid ${key}`);
    }
    return value;
  };
  return { rows: record.value as unknown[], nextLink: link('@odata.nextLink'), deltaLink: link('@odata.deltaLink') };
}

/** Parses a single JSON object body (metadata, WhoAmI, a returned row). */
export function parseObject(text: string, what: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new SyncError('CRM_RESPONSE_INVALID', `[dynamics-adapter] ${what} returned a body that is not JSON`, { cause: error });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SyncError('CRM_RESPONSE_INVALID', `[dynamics-adapter] ${what} returned JSON that is not an object`);
  }
  return body as Record<string, unknown>;
}

/** The value inside a weak ETag: `W/"123"` -> `123`. */
export function etagValue(etag: string): string {
  // The usual shape first: this runs for every row.
  if (etag.startsWith('W/"') && etag.endsWith('"') && etag.length >= 4) return etag.slice(3, -1);
  const match = /^(?:W\/)?"(.*)"$/.exec(etag.trim());
  return match ? (match[1] ?? '') : etag.trim();
}

/** What the row parser needs to know about a pull. */
export interface RowSpec {
  primaryKey: string;
  /** The requested fields, resolved against metadata. */
  fields: readonly AttributeInfo[];
  /** The sync user's systemuserid (lower case): its own changes are echoes (R13). */
  syncUserId: string;
}

export type ParsedRow =
  /**
   * `absent`: requested columns missing from the row (not even null), i.e. not selected: left out of
   * `fields`, never read as null (a value the service did not send).
   */
  | { kind: 'record'; record: CrmRecord; absent: string[] }
  | { kind: 'deleted'; id: string } | { kind: 'rejected'; row: RejectedRow };

const DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

const describe = (value: string | number | boolean): string =>
  typeof value === 'string' ? `the string ${JSON.stringify(value.slice(0, 40))}` : `${typeof value} ${String(value)}`;

/** The JSON property of a column and of its lookup annotation, worked out once per column. */
const names = new WeakMap<AttributeInfo, { property: string; annotation: string }>();
function namesOf(attribute: AttributeInfo): { property: string; annotation: string } {
  let known = names.get(attribute);
  if (!known) {
    const property = propertyOf(attribute);
    known = { property, annotation: `${property}@${LOOKUP_ANNOTATION}` };
    names.set(attribute, known);
  }
  return known;
}

/** Why a value does not fit its column type, or null when it fits. */
export function typeProblem(attribute: AttributeInfo, value: unknown): string | null {
  if (value === null) return null;
  if (!isFieldValue(value)) return `expected a ${attribute.type} value, got ${Array.isArray(value) ? 'an array' : typeof value}`;
  switch (attribute.type) {
    case 'String':
    case 'Memo':
    case 'EntityName':
      return typeof value === 'string' ? null : `expected text, got ${describe(value)}`;
    case 'Integer':
    case 'BigInt':
    case 'Picklist':
    case 'State':
    case 'Status':
      return typeof value === 'number' && Number.isInteger(value) ? null : `expected an integer, got ${describe(value)}`;
    case 'Decimal':
    case 'Double':
    case 'Money':
      return typeof value === 'number' ? null : `expected a number, got ${describe(value)}`;
    case 'Boolean':
      return typeof value === 'boolean' ? null : `expected true or false, got ${describe(value)}`;
    case 'DateTime':
      return typeof value === 'string' && DATE.test(value) && !Number.isNaN(Date.parse(value)) ? null : `expected an ISO date, got ${describe(value)}`;
    case 'Lookup':
    case 'Customer':
    case 'Owner':
    case 'Uniqueidentifier':
      return typeof value === 'string' && isGuid(value) ? null : `expected a GUID, got ${describe(value)}`;
    default:
      // Types the adapter has no rule for pass as they come.
      return null;
  }
}

function deletedId(row: Record<string, unknown>): string | null | undefined {
  const context = row['@odata.context'];
  const removed = row['@removed'];
  const isDeleted =
    (typeof context === 'string' && context.endsWith('$deletedEntity')) ||
    (typeof removed === 'object' && removed !== null) ||
    (row.reason === 'deleted' && typeof row.id === 'string');
  if (!isDeleted) return undefined;
  // Deleted rows carry only `id`, not the primary key; OData 4.01 uses `@id` with the key segment.
  const id = typeof row.id === 'string' ? row.id : typeof row['@id'] === 'string' ? /\(([^)]+)\)$/.exec(row['@id'])?.[1] : undefined;
  return id && isGuid(id) ? id.toLowerCase() : null;
}

/**
 * Whether a raw row can be tied to a record: a valid primary key, or the valid id of a delete. A
 * row without one is a change no re-read by id can recover, so its page is read again.
 */
export function hasReadableKey(raw: unknown, primaryKey: string): boolean {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return false;
  const row = raw as Record<string, unknown>;
  const deleted = deletedId(row);
  if (deleted !== undefined) return deleted !== null;
  const key = row[primaryKey];
  return typeof key === 'string' && isGuid(key);
}

/**
 * One row of a page: a record, a delete (`$deletedEntity`) or a row the adapter cannot read.
 * Annotations it did not ask for, formatted values and extra columns are ignored.
 */
export function parseRow(raw: unknown, spec: RowSpec): ParsedRow {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { kind: 'rejected', row: { id: null, reason: 'row is not a JSON object', raw } };
  }
  const row = raw as Record<string, unknown>;
  const deleted = deletedId(row);
  if (deleted !== undefined) {
    return deleted === null
      ? { kind: 'rejected', row: { id: null, reason: 'deleted row without a valid id', raw } }
      : { kind: 'deleted', id: deleted };
  }
  const key = row[spec.primaryKey];
  if (typeof key !== 'string' || !isGuid(key)) {
    return { kind: 'rejected', row: { id: null, reason: `primary key ${spec.primaryKey} is missing or not a GUID`, raw } };
  }
  const id = key.toLowerCase();
  const etag = row['@odata.etag'];
  const versionNumber = row.versionnumber;
  const version =
    typeof etag === 'string' && etag !== ''
      ? etagValue(etag)
      : typeof versionNumber === 'number' || typeof versionNumber === 'string'
        ? String(versionNumber)
        : '';
  if (version === '') return { kind: 'rejected', row: { id, reason: 'row has neither @odata.etag nor versionnumber', raw } };

  const fields: FieldMap = {};
  const lookups: Record<string, LookupValue | null> = {};
  let problems: string[] | null = null;
  let absent: string[] | null = null;
  for (const attribute of spec.fields) {
    const { property, annotation } = namesOf(attribute);
    if (!(property in row)) {
      (absent ??= []).push(attribute.logicalName);
      continue;
    }
    const value = row[property] === undefined ? null : row[property];
    const problem = typeProblem(attribute, value);
    if (problem) {
      (problems ??= []).push(`${attribute.logicalName}: ${problem}`);
      continue;
    }
    if (!attribute.lookup) {
      fields[attribute.logicalName] = value as FieldMap[string];
      continue;
    }
    if (value === null) {
      fields[attribute.logicalName] = null;
      lookups[attribute.logicalName] = null;
      continue;
    }
    const annotated = row[annotation];
    const entity = typeof annotated === 'string' && annotated !== '' ? annotated : attribute.targets.length === 1 ? attribute.targets[0] : undefined;
    if (entity === undefined) {
      (problems ??= []).push(`${attribute.logicalName}: lookup target unknown (no ${LOOKUP_ANNOTATION} annotation)`);
      continue;
    }
    const target = (value as string).toLowerCase();
    fields[attribute.logicalName] = target;
    lookups[attribute.logicalName] = { id: target, entity };
  }
  if (problems) return { kind: 'rejected', row: { id, reason: problems.join('; '), raw } };

  const modifiedOn = typeof row.modifiedon === 'string' ? row.modifiedon : null;
  const modifiedBy = row._modifiedby_value;
  return {
    kind: 'record',
    absent: absent ?? [],
    record: {
      id,
      version,
      fields,
      lookups,
      bySyncUser: typeof modifiedBy === 'string' && modifiedBy.toLowerCase() === spec.syncUserId,
      modifiedOn,
    },
  };
}
