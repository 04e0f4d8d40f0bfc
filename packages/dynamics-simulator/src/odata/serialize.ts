import type { Row } from '../generator.js';
import { isLookupValue } from '../generator.js';
import type { Org, StoredRow } from '../org.js';
import { isLookup, propertyName } from '../schema.js';
import type { ColumnDefinition, TableDefinition } from '../schema.js';
import { wantsAnnotation } from './prefer.js';
import type { Preferences } from './prefer.js';

export const FORMATTED = 'OData.Community.Display.V1.FormattedValue';
export const LOOKUP_LOGICAL_NAME = 'Microsoft.Dynamics.CRM.lookuplogicalname';
export const NAVIGATION_PROPERTY = 'Microsoft.Dynamics.CRM.associatednavigationproperty';

export const etagOf = (version: number): string => `W/"${version}"`;

const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** Formatted value like the user interface shows it (dates in UTC: the simulated users' time zone). */
export function formatValue(org: Org, column: ColumnDefinition, value: Row[string]): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (isLookupValue(value)) return org.primaryNameOf(value) ?? undefined;
  switch (column.type) {
    case 'Picklist':
    case 'State':
    case 'Status':
      return column.options?.find((option) => option.value === value)?.label;
    case 'Boolean':
      return column.options?.[value ? 1 : 0]?.label;
    case 'Money':
      return typeof value === 'number' ? money.format(value) : undefined;
    case 'Integer':
    case 'BigInt':
      return typeof value === 'number' ? integer.format(value) : undefined;
    case 'Decimal':
    case 'Double':
      return typeof value === 'number' ? decimal.format(value) : undefined;
    case 'DateTime': {
      if (typeof value !== 'string') return undefined;
      const date = new Date(value);
      if (Number.isNaN(date.getTime())) return undefined;
      const hours = date.getUTCHours();
      const minutes = String(date.getUTCMinutes()).padStart(2, '0');
      return `${date.getUTCMonth() + 1}/${date.getUTCDate()}/${date.getUTCFullYear()} ${hours % 12 === 0 ? 12 : hours % 12}:${minutes} ${hours < 12 ? 'AM' : 'PM'}`;
    }
    default:
      return undefined;
  }
}

/** Columns a query returns: the selected ones plus the primary key, or every readable column. */
export function outputColumns(table: TableDefinition, select: ColumnDefinition[] | null): ColumnDefinition[] {
  const primary = table.columns.get(table.primaryIdAttribute)!;
  if (!select) return [...table.columns.values()].filter((column) => column.isValidForRead);
  const columns = [...select];
  // Selecting a money column also returns the currency lookup, unasked.
  const currency = table.columns.get('transactioncurrencyid');
  if (currency && columns.some((column) => column.type === 'Money') && !columns.includes(currency)) columns.push(currency);
  if (!columns.includes(primary)) columns.push(primary);
  return columns;
}

/** Columns a row is charged for besides its primary key (a column selected twice is one). */
export function chargedColumns(table: TableDefinition, columns: ColumnDefinition[]): number {
  const names = new Set(columns.map((column) => column.logicalName));
  names.delete(table.primaryIdAttribute);
  return names.size;
}

export interface SerializeContext {
  org: Org;
  userId: string;
  preferences: Preferences;
}

/** One row as the Web API returns it: etag first, lookups as `_x_value` with requested annotations. */
export function serializeRow(context: SerializeContext, table: TableDefinition, stored: StoredRow, columns: ColumnDefinition[]): Record<string, unknown> {
  const { org, userId, preferences } = context;
  const wantsFormatted = preferences.annotations.length > 0 && wantsAnnotation(preferences, FORMATTED);
  const wantsLookupName = preferences.annotations.length > 0 && wantsAnnotation(preferences, LOOKUP_LOGICAL_NAME);
  const wantsNavigation = preferences.annotations.length > 0 && wantsAnnotation(preferences, NAVIGATION_PROPERTY);
  const out: Record<string, unknown> = { '@odata.etag': etagOf(stored.version) };
  for (const column of columns) {
    const name = propertyName(column);
    // Secured columns the caller may not read come back as null, silently.
    const readable = !column.isSecured || org.fieldPermission(userId, table.logicalName, column).canRead;
    const raw = readable ? stored.row[column.logicalName] : null;
    const value = raw === undefined ? null : raw;
    if (isLookup(column)) {
      if (isLookupValue(value)) {
        if (wantsFormatted) {
          const formatted = formatValue(org, column, value);
          if (formatted !== undefined) out[`${name}@${FORMATTED}`] = formatted;
        }
        if (wantsNavigation) out[`${name}@${NAVIGATION_PROPERTY}`] = column.navigation?.[value.table] ?? column.logicalName;
        if (wantsLookupName) out[`${name}@${LOOKUP_LOGICAL_NAME}`] = value.table;
        out[name] = value.id;
      } else {
        out[name] = null;
      }
      continue;
    }
    if (wantsFormatted) {
      const formatted = formatValue(org, column, value);
      if (formatted !== undefined) out[`${name}@${FORMATTED}`] = formatted;
    }
    out[name] = value;
  }
  return out;
}

// Characters JSON.stringify escapes (quote, backslash, control characters) or checks (surrogates).
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as JSON text; most need no escapes, and a regular expression test is about twice as fast as JSON.stringify. */
function jsonString(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** A value as JSON text, exactly as JSON.stringify writes it inside an object. */
function jsonValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return jsonString(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return value === null || value === undefined ? 'null' : (JSON.stringify(value) ?? 'null');
  }
}

interface ColumnWriter {
  column: ColumnDefinition;
  logicalName: string;
  lookup: boolean;
  readable: boolean;
  /** `,"name":` and the annotation keys, precomputed once per page. */
  key: string;
  formattedKey: string;
  navigationKey: string;
  lookupNameKey: string;
}

/**
 * Serialises rows straight to JSON text: the same text as `JSON.stringify(serializeRow(...))`, without
 * building an object per row. Keys, field-security checks and annotation choices are worked out once
 * for all the rows of a page.
 */
export function createRowSerializer(context: SerializeContext, table: TableDefinition, columns: ColumnDefinition[]): (stored: StoredRow) => string {
  const { org, userId, preferences } = context;
  const annotated = preferences.annotations.length > 0;
  const wantsFormatted = annotated && wantsAnnotation(preferences, FORMATTED);
  const wantsLookupName = annotated && wantsAnnotation(preferences, LOOKUP_LOGICAL_NAME);
  const wantsNavigation = annotated && wantsAnnotation(preferences, NAVIGATION_PROPERTY);
  const writers: ColumnWriter[] = [];
  const seen = new Set<string>();
  for (const column of columns) {
    const name = propertyName(column);
    // A column selected twice is one property (an object keeps the first position).
    if (seen.has(name)) continue;
    seen.add(name);
    writers.push({
      column,
      logicalName: column.logicalName,
      lookup: isLookup(column),
      readable: !column.isSecured || org.fieldPermission(userId, table.logicalName, column).canRead,
      key: `,${JSON.stringify(name)}:`,
      formattedKey: `,${JSON.stringify(`${name}@${FORMATTED}`)}:`,
      navigationKey: `,${JSON.stringify(`${name}@${NAVIGATION_PROPERTY}`)}:`,
      lookupNameKey: `,${JSON.stringify(`${name}@${LOOKUP_LOGICAL_NAME}`)}:`,
    });
  }
  return (stored) => {
    const row = stored.row;
    // W/"<version>": the version is an integer, so the only escapes are the quotes.
    let out = `{"@odata.etag":"W/\\"${stored.version}\\""`;
    for (const writer of writers) {
      const raw = writer.readable ? row[writer.logicalName] : null;
      const value = raw === undefined ? null : raw;
      if (writer.lookup) {
        if (isLookupValue(value)) {
          if (wantsFormatted) {
            const formatted = formatValue(org, writer.column, value);
            if (formatted !== undefined) out += writer.formattedKey + jsonString(formatted);
          }
          if (wantsNavigation) out += writer.navigationKey + jsonString(writer.column.navigation?.[value.table] ?? writer.logicalName);
          if (wantsLookupName) out += writer.lookupNameKey + jsonString(value.table);
          out += writer.key + jsonString(value.id);
        } else {
          out += `${writer.key}null`;
        }
        continue;
      }
      if (wantsFormatted) {
        const formatted = formatValue(org, writer.column, value);
        if (formatted !== undefined) out += writer.formattedKey + jsonString(formatted);
      }
      out += writer.key + jsonValue(value);
    }
    return `${out}}`;
  };
}
