import { errors } from '../odata/errors.js';
import { checkFilter, evaluateFilter, parseFilter } from '../odata/filter.js';
import type { CompareOp, FilterExpr } from '../odata/filter.js';
import { decodeSkipToken, encodeSkipToken } from '../odata/paging.js';
import type { PagingState } from '../odata/paging.js';
import { wantsAnnotation } from '../odata/prefer.js';
import { chargedColumns, createRowSerializer, outputColumns } from '../odata/serialize.js';
import { valueOfColumn } from '../org.js';
import type { StoredRow } from '../org.js';
import { edmType, isLookup, propertyName } from '../schema.js';
import type { ColumnDefinition, TableDefinition } from '../schema.js';
import type { WebApiContext } from './context.js';
import { jsonTextResponse, Utf8Writer } from './http.js';

export const MAX_PAGE_SIZE = 5000;
export const COUNT_LIMIT = 5000;

const SUPPORTED_OPTIONS = new Set(['$select', '$filter', '$orderby', '$top', '$count', '$expand', '$skiptoken', '$deltatoken', '$apply']);

/** The column behind a JSON property name (`_x_value` for lookups), or undefined. */
export function columnForProperty(table: TableDefinition, property: string): ColumnDefinition | undefined {
  if (property.startsWith('_') && property.endsWith('_value')) {
    const column = table.columns.get(property.slice(1, -'_value'.length));
    return column && isLookup(column) ? column : undefined;
  }
  const column = table.columns.get(property);
  return column && !isLookup(column) ? column : undefined;
}

export function requireColumn(table: TableDefinition, property: string): ColumnDefinition {
  const column = columnForProperty(table, property);
  if (!column) throw errors.propertyNotFound(property, table.logicalName);
  return column;
}

export interface QueryOptions {
  select: ColumnDefinition[] | null;
  selectText: string | null;
  filter: FilterExpr | null;
  orderby: Array<{ column: ColumnDefinition; descending: boolean }>;
  top: number | null;
  count: boolean;
  expand: string | null;
  apply: string | null;
  skipToken: string | null;
  deltaToken: string | null;
}

/** Reads and validates the query options of a request on a table. */
export function parseQueryOptions(context: WebApiContext, table: TableDefinition): QueryOptions {
  const params = context.url.searchParams;
  const aliases = new Map<string, string>();
  for (const [key, value] of params) {
    if (key.startsWith('$') && !SUPPORTED_OPTIONS.has(key)) {
      throw errors.badRequest(`The query parameter ${key} is not supported`);
    }
    if (key.startsWith('@')) aliases.set(key, value);
  }
  const selectText = params.get('$select');
  const select =
    selectText === null
      ? null
      : selectText
          .split(',')
          .map((name) => name.trim())
          .filter((name) => name !== '')
          .map((name) => requireColumn(table, name));
  const filterText = params.get('$filter');
  let filter: FilterExpr | null = null;
  if (filterText !== null) {
    filter = parseFilter(filterText, aliases);
    checkFilter(filter, (path) => edmType(requireColumn(table, path).type));
  }
  const orderText = params.get('$orderby');
  const orderby =
    orderText === null
      ? []
      : orderText.split(',').map((part) => {
          const [name = '', direction = 'asc', ...rest] = part.trim().split(/\s+/);
          if (rest.length > 0 || (direction !== 'asc' && direction !== 'desc')) {
            throw errors.badRequest(`Syntax error at position ${part.length} in '${orderText}'.`);
          }
          const resolved = name.startsWith('@') ? (aliases.get(name) ?? name) : name;
          return { column: requireColumn(table, resolved), descending: direction === 'desc' };
        });
  const topText = params.get('$top');
  let top: number | null = null;
  if (topText !== null) {
    top = Number(topText);
    if (!/^\d+$/.test(topText) || !Number.isSafeInteger(top)) throw errors.badRequest(`Invalid value '${topText}' for $top query option found.`);
  }
  const countText = params.get('$count');
  if (countText !== null && countText !== 'true' && countText !== 'false') {
    throw errors.badRequest(`'${countText}' is not a valid count option.`);
  }
  return {
    select,
    selectText,
    filter,
    orderby,
    top,
    count: countText === 'true',
    expand: params.get('$expand'),
    apply: params.get('$apply'),
    skipToken: params.get('$skiptoken'),
    deltaToken: params.get('$deltatoken'),
  };
}

function rejectUnsupported(options: QueryOptions): void {
  if (options.expand !== null) throw errors.badRequest('$expand is not supported by the simulator.', '0x80060888');
  if (options.apply !== null) throw errors.badRequest('$apply is not supported by the simulator.', '0x80060888');
}

/** Row predicate for a user: row-level visibility plus $filter, secured values read as null. */
function rowMatcher(context: WebApiContext, table: TableDefinition, filter: FilterExpr | null): (stored: StoredRow) => boolean {
  const { org, userId } = context;
  const rowFilter = org.rowFilter(userId, table.logicalName);
  const valueOf = (stored: StoredRow) => (path: string) => {
    const column = columnForProperty(table, path);
    if (!column) return null;
    if (column.isSecured && !org.fieldPermission(userId, table.logicalName, column).canRead) return null;
    return valueOfColumn(stored.row, column);
  };
  // Rows asked for by id: a set lookup gives the same answer as evaluating each `eq` term.
  const ids = keySet(filter, table.primaryIdAttribute);
  const wanted = ids ? new Set(ids) : null;
  return (stored) => {
    if (rowFilter && evaluateFilter(rowFilter.expr, (path) => {
      const column = columnForProperty(table, path);
      return column ? valueOfColumn(stored.row, column) : null;
    })) return false;
    if (wanted) return wanted.has(stored.id);
    return filter === null || evaluateFilter(filter, valueOf(stored));
  };
}

export function isRowVisible(context: WebApiContext, table: TableDefinition, stored: StoredRow): boolean {
  return rowMatcher(context, table, null)(stored);
}

function contextUrl(context: WebApiContext, table: TableDefinition, options: QueryOptions, suffix = ''): string {
  const select = options.select ? `(${options.select.map(propertyName).join(',')})` : '';
  return `${context.serviceRoot}$metadata#${table.entitySetName}${select}${suffix}`;
}

/** The request's own query string minus the given options, raw (not re-encoded). */
function queryWithout(context: WebApiContext, ...names: string[]): string[] {
  const raw = context.url.search.replace(/^\?/, '');
  if (raw === '') return [];
  return raw.split('&').filter((part) => {
    const name = decodeURIComponent(part.split('=')[0] ?? '');
    return part !== '' && !names.includes(name);
  });
}

function linkWith(context: WebApiContext, table: TableDefinition, kind: 'deltaLink' | 'nextLink', drop: string[], add: string[]): string {
  const parts = [...queryWithout(context, ...drop), ...add];
  const narrow = context.org.quirks.narrowLinks;
  if (narrow?.links.includes(kind)) {
    // The narrowLinks quirk: the link's $select loses the given columns (never all of them).
    const at = parts.findIndex((part) => decodeURIComponent(part.split('=')[0] ?? '') === '$select');
    const columns = at < 0 ? [] : decodeURIComponent(parts[at]!.slice(parts[at]!.indexOf('=') + 1)).split(',');
    const kept = columns.filter((column) => !narrow.drop.includes(column.trim()));
    if (kept.length > 0 && kept.length < columns.length) parts[at] = `$select=${kept.join(',')}`;
  }
  return `${context.serviceRoot}${table.entitySetName}${parts.length ? `?${parts.join('&')}` : ''}`;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** Delta tokens look like the documented `919042!08/22/2017 08:10:44`: a version and the issue time (UTC). */
export function formatDeltaToken(version: number, issuedAt: number): string {
  const d = new Date(issuedAt);
  return `${version}!${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

export function parseDeltaToken(token: string): { version: number; issuedAt: number } | undefined {
  const match = /^(\d+)!(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2}):(\d{2})$/.exec(token);
  if (!match) return undefined;
  const [, version, month, day, year, hours, minutes, seconds] = match.map(Number) as number[];
  return { version: version!, issuedAt: Date.UTC(year!, month! - 1, day!, hours!, minutes!, seconds!) };
}

function checkTracking(context: WebApiContext, table: TableDefinition, options: QueryOptions): void {
  for (const [option, value] of [
    ['$filter', options.filter],
    ['$orderby', options.orderby.length ? options.orderby : null],
    ['$top', options.top],
    ['$expand', options.expand],
  ] as const) {
    if (value !== null) throw errors.trackingNotSupported(option);
  }
  // Change tracking needs organization-level read on the table.
  if (context.org.rowFilter(context.userId, table.logicalName)) {
    throw errors.privilegeDenied(context.userId, `prvRead${table.schemaName}`, table.logicalName, table.objectTypeCode);
  }
}

type SortKey = Array<string | number | boolean | null>;

function sortKey(stored: StoredRow, orderby: QueryOptions['orderby']): SortKey {
  return orderby.map(({ column }) => {
    const value = valueOfColumn(stored.row, column);
    if (typeof value === 'string') return column.type === 'DateTime' ? Date.parse(value) : value.toLowerCase();
    return value as string | number | boolean | null;
  });
}

function compareKeys(a: SortKey, b: SortKey, orderby: QueryOptions['orderby']): number {
  for (let i = 0; i < orderby.length; i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === y) continue;
    // Nulls sort first ascending, like SQL Server.
    const result = x === null ? -1 : y === null ? 1 : x < y ? -1 : 1;
    return orderby[i]!.descending ? -result : result;
  }
  return 0;
}

/** Positions `[start, end)` of a table to visit, in natural order. */
type PositionRange = readonly [number, number];

const FLIPPED: Record<CompareOp, CompareOp> = { eq: 'eq', ne: 'ne', gt: 'lt', ge: 'le', lt: 'gt', le: 'ge' };

/** The `<primary key> <op> <guid>` comparisons ANDed at the top of a filter (property on the left). */
function keyBounds(filter: FilterExpr | null, primaryKey: string, into: Array<{ op: CompareOp; id: string }> = []): Array<{ op: CompareOp; id: string }> {
  if (filter === null) return into;
  if (filter.kind === 'logical' && filter.op === 'and') {
    keyBounds(filter.left, primaryKey, into);
    keyBounds(filter.right, primaryKey, into);
  } else if (filter.kind === 'compare') {
    const { left, right, op } = filter;
    if (left.kind === 'property' && left.path === primaryKey && right.kind === 'literal' && right.type === 'guid') into.push({ op, id: String(right.value) });
    else if (right.kind === 'property' && right.path === primaryKey && left.kind === 'literal' && left.type === 'guid') into.push({ op: FLIPPED[op], id: String(left.value) });
  }
  return into;
}

/** The ids of a filter made only of `<key> eq <guid>` terms joined by `or` (rows asked for by id), else null. */
function keySet(filter: FilterExpr | null, primaryKey: string, into: string[] = []): string[] | null {
  if (filter === null) return null;
  if (filter.kind === 'logical' && filter.op === 'or') {
    return keySet(filter.left, primaryKey, into) && keySet(filter.right, primaryKey, into);
  }
  if (filter.kind !== 'compare' || filter.op !== 'eq') return null;
  const { left, right } = filter;
  if (left.kind === 'property' && left.path === primaryKey && right.kind === 'literal' && right.type === 'guid') into.push(String(right.value));
  else if (right.kind === 'property' && right.path === primaryKey && left.kind === 'literal' && left.type === 'guid') into.push(String(left.value));
  else return null;
  return into;
}

/**
 * Where a natural-order scan must look. Generated rows sit at positions 0..n-1 with ids that sort like
 * their positions, and rows created at run time follow them; so a filter that bounds the primary key
 * (`<key> ge <guid>`, `gt`, `le`, `lt`, `eq`, ANDed with anything) narrows the generated part to a
 * range found by binary search, instead of a scan from row 0. Rows created at run time are always
 * scanned. Every visited row is still tested against the whole filter.
 */
function scanRanges(context: WebApiContext, table: TableDefinition, filter: FilterExpr | null): PositionRange[] {
  const { org } = context;
  const name = table.logicalName;
  const size = org.size(name);
  const generated = Math.min(size, (org.dataset.counts as Record<string, number>)[name] ?? 0);
  // Rows asked for by id (`<key> eq a or <key> eq b ...`): those positions alone, as an index seek would.
  const ids = keySet(filter, table.primaryIdAttribute);
  if (ids) {
    const positions = [...new Set(ids.map((id) => org.positionOf(name, id)).filter((p): p is number => p !== undefined))].sort((a, b) => a - b);
    return positions.map((position): PositionRange => [position, position + 1]);
  }
  let low = 0;
  let high = generated;
  const bounds = keyBounds(filter, table.primaryIdAttribute);
  if (bounds.length > 0) {
    // First generated position whose id is above (or at least) `id`.
    const firstAfter = (id: string, inclusive: boolean): number => {
      let lo = 0;
      let hi = generated;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const midId = org.dataset.idOf(name, mid);
        if (midId < id || (!inclusive && midId === id)) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    for (const { op, id } of bounds) {
      if (op === 'ge' || op === 'eq') low = Math.max(low, firstAfter(id, true));
      if (op === 'gt') low = Math.max(low, firstAfter(id, false));
      if (op === 'le' || op === 'eq') high = Math.min(high, firstAfter(id, false));
      if (op === 'lt') high = Math.min(high, firstAfter(id, true));
    }
  }
  return [
    [low, Math.max(low, high)],
    [generated, size],
  ];
}

/** Visits the rows of the ranges at positions from `from` on, in order, until `visit` returns false. */
function scan(context: WebApiContext, table: TableDefinition, ranges: PositionRange[], from: number, visit: (stored: StoredRow) => boolean): void {
  const { org } = context;
  const name = table.logicalName;
  for (const [start, end] of ranges) {
    for (let position = Math.max(start, from); position < end; position++) {
      const stored = org.rowAt(name, position);
      if (stored && !visit(stored)) return;
    }
  }
}

/** GET on an entity set: a page of rows, the initial change-tracking read, or a delta read. */
export function readCollection(context: WebApiContext, table: TableDefinition): Response {
  const options = parseQueryOptions(context, table);
  if (options.deltaToken !== null) return readDelta(context, table, options);
  const paging: PagingState | null = options.skipToken === null ? null : decodeSkipToken(options.skipToken);
  // The paging cookie of an initial change-tracking read keeps it one, even if a later page omits the Prefer.
  const tracking = context.preferences.trackChanges || paging?.tracking === true;
  if (tracking) checkTracking(context, table, options);
  rejectUnsupported(options);
  const { org } = context;
  const requestedPageSize = context.preferences.maxPageSize;
  // $top is ignored when odata.maxpagesize is sent.
  const top = requestedPageSize === undefined ? options.top : null;
  const served = paging?.served ?? 0;
  const remaining = top === null ? Infinity : Math.max(0, top - served);
  const pageSize = Math.min(requestedPageSize ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE, remaining);
  const matches = rowMatcher(context, table, options.filter);
  const primaryKey = table.primaryIdAttribute;
  const columns = outputColumns(table, options.select);
  const writeRow = createRowSerializer({ org, userId: context.userId, preferences: context.preferences }, table, columns);
  const ranges = scanRanges(context, table, options.filter);
  const head: Record<string, unknown> = { '@odata.context': contextUrl(context, table, options) };
  if (options.count) {
    const total = countMatching(context, table, options.filter, COUNT_LIMIT + 1);
    head['@odata.count'] = Math.min(total, COUNT_LIMIT);
    if (wantsAnnotation(context.preferences, 'Microsoft.Dynamics.CRM.totalrecordcount')) {
      head['@Microsoft.Dynamics.CRM.totalrecordcount'] = Math.min(total, COUNT_LIMIT);
      head['@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded'] = total > COUNT_LIMIT;
    }
  }
  // Rows are written out as they are found: the page holds bytes, not 5,000 row objects.
  const page = new PageWriter(head);
  let first: StoredRow | undefined;
  let last: StoredRow | undefined;
  let more = false;
  let lastValues: string | undefined;
  const belowTop = (): boolean => page.rows + served < (top ?? Infinity);

  const naturalOrder = options.orderby.length === 0 || (options.orderby.length === 1 && options.orderby[0]!.column.logicalName === primaryKey && !options.orderby[0]!.descending);
  if (naturalOrder) {
    let from = 0;
    if (paging?.lastId) {
      const lastPosition = org.positionOf(table.logicalName, paging.lastId);
      if (lastPosition === undefined) throw errors.badRequest('The paging cookie is not valid. Request the first page again.', '0x80040203');
      from = lastPosition + 1;
    }
    if (pageSize > 0) {
      scan(context, table, ranges, from, (stored) => {
        if (!matches(stored)) return true;
        // One matching row beyond a full page: there is a next page.
        if (page.rows === pageSize) {
          more = true;
          return false;
        }
        page.row(writeRow(stored));
        first ??= stored;
        last = stored;
        return page.rows < pageSize || belowTop();
      });
    }
  } else {
    // Ordered by other columns: sort the matching rows, resume after the last served key.
    const all: Array<{ stored: StoredRow; key: SortKey }> = [];
    scan(context, table, ranges, 0, (stored) => {
      if (matches(stored)) all.push({ stored, key: sortKey(stored, options.orderby) });
      return true;
    });
    const compare = (a: { stored: StoredRow; key: SortKey }, b: { stored: StoredRow; key: SortKey }) =>
      compareKeys(a.key, b.key, options.orderby) || a.stored.position - b.stored.position;
    all.sort(compare);
    let start = 0;
    if (paging?.lastValues !== undefined && paging.lastId) {
      const lastPosition = org.positionOf(table.logicalName, paging.lastId) ?? -1;
      const lastKey = JSON.parse(paging.lastValues) as SortKey;
      start = all.findIndex((entry) => compare(entry, { stored: { position: lastPosition } as StoredRow, key: lastKey }) > 0);
      if (start < 0) start = all.length;
    }
    const selected = all.slice(start, start + pageSize).map((entry) => entry.stored);
    for (const stored of selected) page.row(writeRow(stored));
    first = selected[0];
    last = selected.at(-1);
    more = start + pageSize < all.length && belowTop();
    if (last) lastValues = JSON.stringify(sortKey(last, options.orderby));
  }

  context.usage.rows += page.rows;
  context.usage.columnValues += page.rows * chargedColumns(table, columns);
  const tail: Record<string, unknown> = {};
  const deltaToken = paging?.deltaToken ?? (tracking && table.changeTrackingEnabled ? formatDeltaToken(org.currentVersion(), org.clock.now()) : undefined);
  if (more && last) {
    const state: PagingState = { page: (paging?.page ?? 1) + 1, lastId: last.id, tracking };
    if (first) state.firstId = first.id;
    if (top !== null) state.served = served + page.rows;
    if (lastValues !== undefined) state.lastValues = lastValues;
    if (tracking && deltaToken !== undefined) state.deltaToken = deltaToken;
    tail['@odata.nextLink'] = linkWith(context, table, 'nextLink', ['$skiptoken'], [`$skiptoken=${encodeURIComponent(encodeSkipToken(state, primaryKey))}`]);
  } else if (tracking && deltaToken !== undefined) {
    tail['@odata.deltaLink'] = linkWith(context, table, 'deltaLink', ['$skiptoken', '$deltatoken'], [`$deltatoken=${encodeURIComponent(deltaToken).replace(/!/g, '%21')}`]);
  }
  return jsonTextResponse(200, page.finish(tail), preferenceApplied(context, tracking && table.changeTrackingEnabled));
}

/**
 * A collection body, `{...head,"value":[...rows],...tail}`, as UTF-8 bytes: the same text as
 * JSON.stringify of the body object, written without one. Rows are JSON texts appended one by one.
 */
class PageWriter {
  private readonly out = new Utf8Writer();
  rows = 0;

  constructor(head: Record<string, unknown>) {
    this.out.write(`${JSON.stringify(head).slice(0, -1)},"value":[`);
  }

  row(json: string): void {
    this.out.write(this.rows++ === 0 ? json : `,${json}`);
  }

  finish(tail: Record<string, unknown>): Uint8Array {
    const after = JSON.stringify(tail);
    this.out.write(after === '{}' ? ']}' : `],${after.slice(1)}`);
    return this.out.bytes();
  }
}

export function preferenceApplied(context: WebApiContext, tracking: boolean): Record<string, string> {
  const applied: string[] = [];
  if (context.preferences.maxPageSize !== undefined) applied.push(`odata.maxpagesize=${Math.min(context.preferences.maxPageSize, MAX_PAGE_SIZE)}`);
  if (tracking) applied.push('odata.track-changes');
  if (context.preferences.annotationsRaw !== undefined) applied.push(`odata.include-annotations="${context.preferences.annotationsRaw}"`);
  return applied.length ? { 'Preference-Applied': applied.join(',') } : {};
}

export function countMatching(context: WebApiContext, table: TableDefinition, filter: FilterExpr | null, stopAt: number): number {
  const matches = rowMatcher(context, table, filter);
  let total = 0;
  if (stopAt <= 0) return 0;
  scan(context, table, scanRanges(context, table, filter), 0, (stored) => {
    if (matches(stored)) total++;
    return total < stopAt;
  });
  return total;
}

function checkDeltaToken(context: WebApiContext, token: string): { version: number; issuedAt: number } {
  const { org } = context;
  const parsed = parseDeltaToken(token);
  if (!parsed || parsed.version > org.currentVersion()) throw errors.badRequest('The delta token is not valid.', '0x80040203');
  if (parsed.version <= org.expiredTokenVersion() || org.clock.now() - parsed.issuedAt > org.deltaTokenMaxAgeMs) {
    throw errors.deltaTokenExpired();
  }
  return parsed;
}

/** Changes since a delta token: changed rows (version order), then `$deletedEntity` rows, paged. */
function readDelta(context: WebApiContext, table: TableDefinition, options: QueryOptions): Response {
  checkTracking(context, table, options);
  rejectUnsupported(options);
  const { org } = context;
  const token = checkDeltaToken(context, options.deltaToken!);
  const paging = options.skipToken === null ? null : decodeSkipToken(options.skipToken);
  const upTo = paging?.upTo ?? org.currentVersion();
  const pageSize = Math.min(context.preferences.maxPageSize ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE);
  const { changed, deleted } = org.changesSince(table.logicalName, token.version, upTo);
  type DeltaItem = { phase: 'changed'; version: number; stored: StoredRow } | { phase: 'deleted'; version: number; id: string };
  const items: DeltaItem[] = [
    ...changed.filter((stored) => isRowVisible(context, table, stored)).map((stored) => ({ phase: 'changed' as const, version: stored.version, stored })),
    ...deleted.map((entry) => ({ phase: 'deleted' as const, version: entry.version, id: entry.id })),
  ];
  const after = (item: DeltaItem): boolean =>
    !paging?.phase ||
    (paging.phase === 'changed' ? item.phase === 'deleted' || item.version > (paging.lastVersion ?? -1) : item.phase === 'deleted' && item.version > (paging.lastVersion ?? -1));
  let start = items.findIndex(after);
  if (start < 0) start = items.length;
  const page = items.slice(start, start + pageSize);
  context.usage.rows += page.length;

  const columns = outputColumns(table, options.select);
  // A deleted row is its id alone.
  context.usage.columnValues += page.filter((item) => item.phase === 'changed').length * chargedColumns(table, columns);
  const writeRow = createRowSerializer({ org, userId: context.userId, preferences: context.preferences }, table, columns);
  const deletedContext = JSON.stringify(`${context.serviceRoot}$metadata#${table.entitySetName}/$deletedEntity`);
  const out = new PageWriter({ '@odata.context': contextUrl(context, table, options, '/$delta') });
  for (const item of page) {
    out.row(item.phase === 'changed' ? writeRow(item.stored) : `{"@odata.context":${deletedContext},"id":${JSON.stringify(item.id)},"reason":"deleted"}`);
  }
  const tail: Record<string, unknown> = {};
  const last = page.at(-1);
  if (last && start + pageSize < items.length) {
    const state: PagingState = { page: (paging?.page ?? 1) + 1, tracking: true, phase: last.phase, lastVersion: last.version, upTo };
    tail['@odata.nextLink'] = linkWith(context, table, 'nextLink', ['$skiptoken'], [`$skiptoken=${encodeURIComponent(encodeSkipToken(state, table.primaryIdAttribute))}`]);
  } else {
    const next = formatDeltaToken(upTo, org.clock.now());
    tail['@odata.deltaLink'] = linkWith(context, table, 'deltaLink', ['$skiptoken', '$deltatoken'], [`$deltatoken=${encodeURIComponent(next).replace(/!/g, '%21')}`]);
  }
  return jsonTextResponse(200, out.finish(tail), preferenceApplied(context, context.preferences.trackChanges));
}

/** GET <set>/$count: a plain-text number (capped like @odata.count), or the number of changes since a delta token. */
export function readCount(context: WebApiContext, table: TableDefinition): Response {
  const options = parseQueryOptions(context, table);
  let count: number;
  if (options.deltaToken !== null) {
    const token = checkDeltaToken(context, options.deltaToken);
    const { changed, deleted } = context.org.changesSince(table.logicalName, token.version, context.org.currentVersion());
    count = changed.filter((stored) => isRowVisible(context, table, stored)).length + deleted.length;
  } else {
    count = Math.min(countMatching(context, table, options.filter, COUNT_LIMIT + 1), COUNT_LIMIT);
  }
  return new Response(String(count), { status: 200, headers: { 'Content-Type': 'text/plain', 'OData-Version': '4.0' } });
}

