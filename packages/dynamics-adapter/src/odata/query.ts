import { SyncError } from '@crm-sync/core';

/** Dataverse's GET URL limit (a GET inside `$batch` may be 64 KB; we never rely on that). */
export const MAX_URL_LENGTH = 32_768;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isName(name: string): boolean {
  return NAME.test(name);
}

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

/** A logical name, entity set or property name fit for a URL; anything else is refused. */
export function name(value: string, what = 'name'): string {
  if (!isName(value)) {
    throw new SyncError('CRM_REQUEST_REJECTED', `[dynamics-adapter] Not a valid ${what}: ${JSON.stringify(value.slice(0, 100))}`, {
      details: { what },
    });
  }
  return value;
}

/** An OData string literal: single quotes doubled. */
export function stringLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A GUID for a key segment or a filter (unquoted in OData v4). */
export function guid(value: string): string {
  if (!isGuid(value)) {
    throw new SyncError('CRM_REQUEST_REJECTED', `[dynamics-adapter] Not a GUID: ${JSON.stringify(value.slice(0, 100))}`);
  }
  return value.toLowerCase();
}

/** A DateTimeOffset literal (unquoted), normalised to UTC ISO-8601. */
export function dateTimeLiteral(value: string | number): string {
  const time = typeof value === 'number' ? value : Date.parse(value);
  if (Number.isNaN(time)) throw new SyncError('CRM_REQUEST_REJECTED', `[dynamics-adapter] Not a date: ${JSON.stringify(String(value))}`);
  return new Date(time).toISOString().replace('.000Z', 'Z');
}

/** `set(<guid>)`: the URL of one row. */
export function rowPath(entitySet: string, id: string): string {
  return `${name(entitySet, 'entity set')}(${guid(id)})`;
}

export interface QueryOptions {
  select?: readonly string[];
  filter?: string;
  orderby?: readonly string[];
  top?: number;
}

/**
 * A collection URL below the Web API root. Option names stay literal (`$select`); values are
 * percent-encoded. Refuses URLs over the 32 KB limit before anything is sent.
 */
export function collectionUrl(root: string, entitySet: string, query: QueryOptions = {}): string {
  const parts: string[] = [];
  if (query.select?.length) parts.push(`$select=${query.select.map((s) => name(s, 'column name')).join(',')}`);
  if (query.filter) parts.push(`$filter=${encodeURIComponent(query.filter)}`);
  if (query.orderby?.length) parts.push(`$orderby=${encodeURIComponent(query.orderby.join(','))}`);
  if (query.top !== undefined) parts.push(`$top=${Math.trunc(query.top)}`);
  const url = `${name(entitySet, 'entity set')}${parts.length ? `?${parts.join('&')}` : ''}`;
  checkLength(root, url);
  return url;
}

export function checkLength(root: string, url: string): void {
  if (root.length + url.length > MAX_URL_LENGTH) {
    throw new SyncError(
      'CRM_REQUEST_REJECTED',
      `[dynamics-adapter] Request URL would be ${root.length + url.length} characters, over the ${MAX_URL_LENGTH} limit (select fewer fields)`,
      { details: { length: root.length + url.length } },
    );
  }
}

export interface PreferOptions {
  maxPageSize?: number;
  trackChanges?: boolean;
  annotations?: readonly string[];
  returnRepresentation?: boolean;
  continueOnError?: boolean;
}

/** One comma-separated `Prefer` header (RFC 7240). */
export function prefer(options: PreferOptions): string {
  const parts: string[] = [];
  if (options.trackChanges) parts.push('odata.track-changes');
  if (options.maxPageSize !== undefined) parts.push(`odata.maxpagesize=${options.maxPageSize}`);
  if (options.annotations?.length) parts.push(`odata.include-annotations="${options.annotations.join(',')}"`);
  if (options.returnRepresentation) parts.push('return=representation');
  if (options.continueOnError) parts.push('odata.continue-on-error');
  return parts.join(',');
}

export const LOOKUP_ANNOTATION = 'Microsoft.Dynamics.CRM.lookuplogicalname';
