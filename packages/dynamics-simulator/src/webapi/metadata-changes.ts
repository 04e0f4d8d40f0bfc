import { errors } from '../odata/errors.js';
import type { TableDefinition } from '../schema.js';
import type { WebApiContext } from './context.js';
import { jsonResponse } from './http.js';
import { attributeMetadata, entityMetadata, pick } from './metadata.js';

/**
 * `RetrieveMetadataChanges(Query=@p1,ClientVersionStamp=@p2,DeletedMetadataFilters=@p3)`: table and
 * column definitions matching an EntityQueryExpression, and with a ClientVersionStamp only what
 * changed since it, deleted columns among `DeletedMetadata`, plus a new ServerVersionStamp.
 */

type Json = Record<string, unknown>;

/** Stamps older than this fail, as the SDK's ExpiredVersionStamp (Organization.ExpireSubscriptionsInDays, 90 by default). */
export const METADATA_STAMP_MAX_AGE_MS = 90 * 86_400_000;

const FILTER_FLAGS = { Default: 1, Entity: 1, Attribute: 2, Relationship: 4, Label: 8, OptionSet: 16, All: 31 } as const;

function stampText(version: number, at: number): string {
  const d = new Date(at);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${version}!${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())}/${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

function parseStamp(text: string): { version: number; at: number } | null {
  const match = /^(\d+)!(\d\d)\/(\d\d)\/(\d{4}) (\d\d):(\d\d):(\d\d)$/.exec(text);
  if (!match) return null;
  const [, version, month, day, year, hours, minutes, seconds] = match.map(Number) as number[];
  return { version: version!, at: Date.UTC(year!, month! - 1, day!, hours, minutes, seconds) };
}

/** The function's parameters: inline literals or `@alias` references to query options. */
function parameters(head: string, url: URL): Map<string, string> {
  const inner = /^(?:Microsoft\.Dynamics\.CRM\.)?RetrieveMetadataChanges\((.*)\)$/.exec(head)?.[1];
  if (inner === undefined) throw errors.badRequest('Bad Request - Error in query syntax.');
  const out = new Map<string, string>();
  // Commas inside quoted literals ('Entity,Attribute') do not split.
  for (const part of inner.match(/(?:[^,']|'[^']*')+/g) ?? []) {
    const eq = part.indexOf('=');
    if (eq < 0) throw errors.badRequest(`Bad Request - Error in query syntax: '${part}'.`);
    const name = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    const value = raw.startsWith('@') ? url.searchParams.get(raw) : raw;
    if (value === null) throw errors.badRequest(`The parameter alias '${raw}' of '${name}' has no value.`);
    out.set(name, value);
  }
  return out;
}

interface EntityQuery {
  tables: Set<string> | null;
  entityProperties: string[] | null;
  attributeProperties: string[] | null;
}

/** The parts of an EntityQueryExpression the simulator understands: LogicalName criteria and property lists. */
function parseQuery(text: string | undefined): EntityQuery {
  if (text === undefined) return { tables: null, entityProperties: null, attributeProperties: null };
  let json: Json;
  try {
    json = JSON.parse(text) as Json;
  } catch {
    throw errors.badRequest('The Query parameter is not a valid EntityQueryExpression (JSON).');
  }
  let tables: Set<string> | null = null;
  const criteria = json.Criteria as { Conditions?: Array<{ PropertyName?: string; ConditionOperator?: string; Value?: { Value?: unknown } }> } | undefined;
  for (const condition of criteria?.Conditions ?? []) {
    if (condition.PropertyName !== 'LogicalName' || !['Equals', 'In'].includes(condition.ConditionOperator ?? '')) {
      throw errors.badRequest(`The simulator filters RetrieveMetadataChanges by LogicalName (Equals, In) only, not '${condition.PropertyName} ${condition.ConditionOperator}'.`);
    }
    const value = condition.Value?.Value;
    tables = new Set((Array.isArray(value) ? value : [value]).map(String));
  }
  const names = (properties: unknown): string[] | null => {
    const p = properties as { AllProperties?: boolean; PropertyNames?: string[] } | undefined;
    return !p || p.AllProperties === true || !Array.isArray(p.PropertyNames) ? null : p.PropertyNames;
  };
  const attributeQuery = json.AttributeQuery as { Properties?: unknown } | undefined;
  return { tables, entityProperties: names(json.Properties), attributeProperties: names(attributeQuery?.Properties) };
}

export function retrieveMetadataChanges(context: WebApiContext, head: string): Response {
  const { org } = context;
  const params = parameters(head, context.url);
  const query = parseQuery(params.get('Query'));
  const now = org.clock.now();
  const clientStamp = params.get('ClientVersionStamp');
  let since: number | null = null;
  if (clientStamp !== undefined) {
    const stamp = parseStamp(clientStamp.replace(/^'(.*)'$/, '$1'));
    if (!stamp || stamp.version > org.schemaVersion()) throw errors.badRequest(`The ClientVersionStamp '${clientStamp}' is not one this organization issued.`);
    if (now - stamp.at > METADATA_STAMP_MAX_AGE_MS) {
      throw errors.badRequest('Version stamp associated with the client has expired. Please perform a full sync.', '0x80044352');
    }
    since = stamp.version;
  }
  let deletedFlags = FILTER_FLAGS.Default as number;
  const filterText = params.get('DeletedMetadataFilters');
  if (filterText !== undefined) {
    const names = /^(?:Microsoft\.Dynamics\.CRM\.DeletedMetadataFilters)?'([^']*)'$/.exec(filterText)?.[1];
    const flags = names?.split(',').map((n) => FILTER_FLAGS[n.trim() as keyof typeof FILTER_FLAGS]);
    if (!flags || flags.some((f) => f === undefined)) throw errors.badRequest(`DeletedMetadataFilters '${filterText}' is not a DeletedMetadataFilters value.`);
    deletedFlags = flags.reduce((a, b) => a | b!, 0);
  }

  const wanted = (table: TableDefinition): boolean => query.tables === null || query.tables.has(table.logicalName);
  const withAttributes = query.entityProperties === null || query.entityProperties.includes('Attributes');
  const entityJson = (table: TableDefinition, columns: string[] | null): Json => {
    const json = pick(entityMetadata(table), query.entityProperties?.filter((p) => p !== 'Attributes') ?? null);
    json.HasChanged = since === null ? null : true;
    if (withAttributes) {
      const chosen = [...table.columns.values()].filter((c) => columns === null || columns.includes(c.logicalName));
      json.Attributes = chosen.map((c) => ({ ...pick(attributeMetadata(table, c, false), query.attributeProperties), HasChanged: since === null ? null : true }));
    }
    return json;
  };

  const entities: Json[] = [];
  const deleted: string[] = [];
  if (since === null) {
    for (const table of org.tables()) if (wanted(table)) entities.push(entityJson(table, null));
  } else {
    // Only tables with changed columns, and in them only those columns that exist now.
    const changed = new Map<string, Set<string>>();
    for (const change of org.schemaChangesSince(since)) {
      const table = org.table(change.table);
      if (!table || !wanted(table)) continue;
      if (change.kind === 'delete') {
        if (deletedFlags & FILTER_FLAGS.Attribute) deleted.push(change.metadataId);
        continue;
      }
      const set = changed.get(table.logicalName) ?? new Set<string>();
      set.add(change.column);
      changed.set(table.logicalName, set);
    }
    for (const [name, columns] of changed) {
      const table = org.table(name)!;
      const present = [...columns].filter((c) => table.columns.has(c));
      if (present.length > 0) entities.push(entityJson(table, present));
    }
  }
  context.usage.rows += entities.length;
  const deletedMetadata =
    deleted.length === 0 ? { Count: 0, IsReadOnly: false, Keys: [], Values: [] } : { Count: 1, IsReadOnly: false, Keys: ['Attribute'], Values: [[...new Set(deleted)]] };
  return jsonResponse(200, {
    '@odata.context': `${context.serviceRoot}$metadata#Microsoft.Dynamics.CRM.RetrieveMetadataChangesResponse`,
    EntityMetadata: entities,
    ServerVersionStamp: stampText(org.schemaVersion(), now),
    DeletedMetadata: deletedMetadata,
  });
}
