import type { Row, Value } from '../generator.js';
import { isGuid } from '../guid.js';
import { errors, odataError } from '../odata/errors.js';
import { chargedColumns, etagOf, outputColumns, serializeRow } from '../odata/serialize.js';
import type { Org, StoredRow } from '../org.js';
import { toIsoSeconds } from '../org.js';
import { edmType, isLookup, propertyName } from '../schema.js';
import type { ColumnDefinition, TableDefinition } from '../schema.js';
import type { WebApiContext } from './context.js';
import { emptyResponse, jsonResponse } from './http.js';
import { isRowVisible, parseQueryOptions, preferenceApplied } from './query.js';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

export function entityUrl(context: WebApiContext, table: TableDefinition, id: string): string {
  return `${context.serviceRoot}${table.entitySetName}(${id})`;
}

/** Rejects a value of the wrong type or outside the column's limits with a 0x80044331 validation error. */
function validateValue(table: TableDefinition, column: ColumnDefinition, value: unknown): Value {
  if (value === null) return null;
  const fail = (detail: string) => errors.validation(detail);
  const wrongType = () => fail(`The value '${String(JSON.stringify(value))}' of the '${column.logicalName}' attribute of the '${table.logicalName}' entity cannot be converted to the expected type '${edmType(column.type)}'.`);
  switch (column.type) {
    case 'String':
    case 'Memo':
      if (typeof value !== 'string') throw wrongType();
      if (column.maxLength !== undefined && value.length > column.maxLength) {
        throw fail(`The length of the '${column.logicalName}' attribute of the '${table.logicalName}' entity exceeded the maximum allowed length of '${column.maxLength}'.`);
      }
      return value;
    case 'Integer':
    case 'BigInt':
    case 'Picklist':
    case 'State':
    case 'Status':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw wrongType();
      if (column.options && !column.options.some((option) => option.value === value)) {
        throw fail(`The value ${value} of '${column.logicalName}' on record of type '${table.logicalName}' is outside the valid range. Accepted Values: ${column.options.map((option) => option.value).join(',')}`);
      }
      break;
    case 'Decimal':
    case 'Double':
    case 'Money':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw wrongType();
      break;
    case 'Boolean':
      if (typeof value !== 'boolean') throw wrongType();
      return value;
    case 'DateTime': {
      if (typeof value !== 'string' || !ISO_DATE.test(value) || Number.isNaN(Date.parse(value))) throw wrongType();
      return toIsoSeconds(Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value));
    }
    case 'Uniqueidentifier':
      if (typeof value !== 'string' || !isGuid(value)) throw wrongType();
      return value.toLowerCase();
    default:
      throw wrongType();
  }
  if (column.minValue !== undefined && value < column.minValue) {
    throw fail(`The value ${value} of '${column.logicalName}' on record of type '${table.logicalName}' is outside the valid range (${column.minValue} to ${column.maxValue}).`);
  }
  if (column.maxValue !== undefined && value > column.maxValue) {
    throw fail(`The value ${value} of '${column.logicalName}' on record of type '${table.logicalName}' is outside the valid range (${column.minValue} to ${column.maxValue}).`);
  }
  return value;
}

const BIND_TARGET = /^(?:.*\/api\/data\/v9\.\d\/|\/)?([A-Za-z_][A-Za-z0-9_]*)\(([0-9a-fA-F-]{36})\)$/;

export interface ParseBodyOptions {
  mode: 'create' | 'update';
  /** Control API writes act like a person in the app: no field security or read-only checks. */
  trusted?: boolean;
  /** Content-ID references inside a change set. */
  contentIds?: Map<string, string>;
}

/** Converts a JSON body into column values, with the Web API's checks and errors. */
export function parseRowBody(org: Org, userId: string, table: TableDefinition, body: unknown, options: ParseBodyOptions): Row {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw errors.payload(table.entitySetName, 'Microsoft.OData.ODataException: A node of type \'StartArray\' was read from the JSON reader when trying to read the start of an entry. A \'StartObject\' node was expected.');
  }
  const values: Row = {};
  for (const [key, raw] of Object.entries(body as Record<string, unknown>)) {
    if (key.endsWith('@odata.bind')) {
      const navigation = key.slice(0, -'@odata.bind'.length);
      const column = [...table.columns.values()].find((candidate) => isLookup(candidate) && Object.values(candidate.navigation ?? {}).includes(navigation));
      if (!column) {
        throw errors.payload(
          table.entitySetName,
          `Microsoft.OData.ODataException: An undeclared property '${navigation}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.`,
        );
      }
      if (!options.trusted) checkWritable(org, userId, table, column, options.mode);
      if (raw === null) {
        values[column.logicalName] = null;
        continue;
      }
      let reference = typeof raw === 'string' ? raw : '';
      if (reference.startsWith('$') && options.contentIds?.has(reference.slice(1))) reference = options.contentIds.get(reference.slice(1))!;
      const match = BIND_TARGET.exec(reference);
      const targetTable = Object.entries(column.navigation ?? {}).find(([, nav]) => nav === navigation)?.[0];
      const target = targetTable === undefined ? undefined : org.table(targetTable);
      if (!match || !target || match[1] !== target.entitySetName) {
        throw errors.payload(table.entitySetName, `Microsoft.OData.ODataException: The entity reference '${String(raw)}' for navigation property '${navigation}' is not valid.`);
      }
      const id = match[2]!.toLowerCase();
      if (!org.getRow(target.logicalName, id)) throw errors.rowNotFound(target.logicalName, id);
      values[column.logicalName] = { table: target.logicalName, id };
      continue;
    }
    // Instance annotations (@odata.type, @odata.etag, name@...FormattedValue) carry no data.
    if (key.includes('@')) continue;
    const column = table.columns.get(key);
    if (!column || isLookup(column)) {
      throw errors.payload(
        table.entitySetName,
        `Microsoft.OData.ODataException: The property '${key}' does not exist on type 'Microsoft.Dynamics.CRM.${table.logicalName}'. Make sure to only use property names that are defined by the type or mark the type as open type.`,
      );
    }
    if (column.isPrimaryId) {
      if (options.mode === 'create') values[key] = validateValue(table, column, raw);
      continue;
    }
    if (!options.trusted) checkWritable(org, userId, table, column, options.mode);
    values[key] = validateValue(table, column, raw);
  }
  return values;
}

function checkWritable(org: Org, userId: string, table: TableDefinition, column: ColumnDefinition, mode: 'create' | 'update'): void {
  const valid = mode === 'create' ? column.isValidForCreate : column.isValidForUpdate;
  if (!valid) {
    throw odataError(403, '0x80048405', `The '${column.logicalName}' attribute of the '${table.logicalName}' entity is not valid for ${mode}.`);
  }
  if (column.isSecured) {
    const permission = org.fieldPermission(userId, table.logicalName, column);
    if (mode === 'update' && !permission.canUpdate) throw errors.secureFieldUpdate();
    if (mode === 'create' && !permission.canCreate) throw errors.secureFieldCreate();
  }
}

function parseJsonBody(context: WebApiContext, table: TableDefinition): unknown {
  if (context.body.trim() === '') return {};
  try {
    return JSON.parse(context.body);
  } catch (error) {
    throw errors.payload(table.entitySetName, `Microsoft.OData.ODataException: Invalid JSON. ${(error as Error).message}`);
  }
}

function normalizeEtag(value: string): string {
  return value.trim();
}

/** Reads a row the caller may see, or throws 404 (missing) or 403 (hidden from this user). */
function visibleRow(context: WebApiContext, table: TableDefinition, id: string): StoredRow {
  const stored = context.org.getRow(table.logicalName, id);
  if (!stored) throw errors.rowNotFound(table.logicalName, id);
  if (!isRowVisible(context, table, stored)) {
    throw errors.privilegeDenied(context.userId, `prvRead${table.schemaName}`, table.logicalName, table.objectTypeCode);
  }
  return stored;
}

function representation(context: WebApiContext, table: TableDefinition, stored: StoredRow, status: number, extra: Record<string, string>): Response {
  const options = parseQueryOptions(context, table);
  const columns = outputColumns(table, options.select);
  const select = options.select ? `(${options.select.map(propertyName).join(',')})` : '';
  const body = {
    '@odata.context': `${context.serviceRoot}$metadata#${table.entitySetName}${select}/$entity`,
    ...serializeRow({ org: context.org, userId: context.userId, preferences: context.preferences }, table, stored, columns),
  };
  const applied = ['return=representation'];
  const annotations = preferenceApplied(context, false)['Preference-Applied'];
  if (annotations) applied.push(annotations);
  return jsonResponse(status, body, { ...extra, 'Preference-Applied': applied.join(','), ETag: etagOf(stored.version) });
}

export function readEntity(context: WebApiContext, table: TableDefinition, id: string): Response {
  const options = parseQueryOptions(context, table);
  if (options.expand !== null) throw errors.badRequest('$expand is not supported by the simulator.', '0x80060888');
  const stored = visibleRow(context, table, id);
  context.usage.rows += 1;
  const ifNoneMatch = context.headers.get('If-None-Match');
  // 304 never happens when annotations are requested.
  if (ifNoneMatch && ifNoneMatch !== 'null' && context.preferences.annotations.length === 0 && normalizeEtag(ifNoneMatch) === etagOf(stored.version)) {
    return emptyResponse(304, { ETag: etagOf(stored.version) });
  }
  const columns = outputColumns(table, options.select);
  context.usage.columnValues += chargedColumns(table, columns);
  const select = options.select ? `(${options.select.map(propertyName).join(',')})` : '';
  const body = {
    '@odata.context': `${context.serviceRoot}$metadata#${table.entitySetName}${select}/$entity`,
    ...serializeRow({ org: context.org, userId: context.userId, preferences: context.preferences }, table, stored, columns),
  };
  return jsonResponse(200, body, { ...preferenceApplied(context, false), ETag: etagOf(stored.version) });
}

export function createEntity(context: WebApiContext, table: TableDefinition): Response {
  const values = parseRowBody(context.org, context.userId, table, parseJsonBody(context, table), { mode: 'create', ...(context.contentIds ? { contentIds: context.contentIds } : {}) });
  const requestedId = values[table.primaryIdAttribute];
  delete values[table.primaryIdAttribute];
  if (typeof requestedId === 'string' && context.org.getRow(table.logicalName, requestedId)) throw errors.duplicateRecord();
  const stored = context.org.create(table.logicalName, values, { userId: context.userId, ...(typeof requestedId === 'string' ? { id: requestedId } : {}) });
  context.usage.writes += 1;
  const headers = { 'OData-EntityId': entityUrl(context, table, stored.id) };
  if (context.preferences.returnRepresentation) return representation(context, table, stored, 201, headers);
  return emptyResponse(204, headers);
}

/** PATCH is an upsert; If-Match: * makes it update-only, If-None-Match: * create-only. */
export function upsertEntity(context: WebApiContext, table: TableDefinition, id: string): Response {
  const { org } = context;
  const ifMatch = context.headers.get('If-Match');
  const ifNoneMatch = context.headers.get('If-None-Match');
  const existing = org.getRow(table.logicalName, id);
  if (existing && ifNoneMatch?.trim() === '*') throw errors.duplicateRecord();
  if (!existing && ifMatch !== null) throw errors.rowNotFound(table.logicalName, id);
  if (existing) {
    if (!isRowVisible(context, table, existing)) {
      throw errors.privilegeDenied(context.userId, `prvWrite${table.schemaName}`, table.logicalName, table.objectTypeCode);
    }
    if (ifMatch !== null && ifMatch.trim() !== '*' && normalizeEtag(ifMatch) !== etagOf(existing.version)) throw errors.versionMismatch();
  }
  const values = parseRowBody(org, context.userId, table, parseJsonBody(context, table), {
    mode: existing ? 'update' : 'create',
    ...(context.contentIds ? { contentIds: context.contentIds } : {}),
  });
  delete values[table.primaryIdAttribute];
  const stored = existing ? org.update(table.logicalName, id, values, { userId: context.userId }) : org.create(table.logicalName, values, { userId: context.userId, id });
  context.usage.writes += 1;
  const headers = { 'OData-EntityId': entityUrl(context, table, stored.id) };
  if (context.preferences.returnRepresentation) return representation(context, table, stored, existing ? 200 : 201, headers);
  return emptyResponse(204, headers);
}

export function deleteEntity(context: WebApiContext, table: TableDefinition, id: string): Response {
  const stored = context.org.getRow(table.logicalName, id);
  if (!stored) throw errors.rowNotFound(table.logicalName, id);
  if (!isRowVisible(context, table, stored)) {
    throw errors.privilegeDenied(context.userId, `prvDelete${table.schemaName}`, table.logicalName, table.objectTypeCode);
  }
  const ifMatch = context.headers.get('If-Match');
  if (ifMatch !== null && ifMatch.trim() !== '*' && normalizeEtag(ifMatch) !== etagOf(stored.version)) throw errors.versionMismatch();
  context.org.remove(table.logicalName, id, { userId: context.userId });
  context.usage.writes += 1;
  return emptyResponse(204);
}

