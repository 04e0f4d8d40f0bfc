import { isSyncError, SyncError } from '@crm-sync/core';
import type { CrmSchemaChange, EntityDefinition } from '@crm-sync/core';
import type { HttpClient } from './http.js';
import { getJsonObject } from './json-read.js';
import type { MetadataService } from './metadata.js';
import { name, stringLiteral } from './odata/query.js';

/**
 * Schema drift from Dataverse's own change feed: `RetrieveMetadataChanges` with the last
 * `ServerVersionStamp` as `ClientVersionStamp` answers only the column definitions changed since,
 * and with `DeletedMetadataFilters` the deleted ones; one request for every table, however many.
 */

interface Column {
  entity: string;
  field: string;
  type: string;
  secured: boolean;
}

interface FeedState {
  /** The tables the stamp covers (sorted logical names). */
  tables: string;
  stamp: string;
  /** Known columns by MetadataId: a deleted column is reported by its id alone. */
  columns: Map<string, Column>;
  since: number;
}

const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);

function invalid(detail: string): SyncError {
  return new SyncError('CRM_RESPONSE_INVALID', `[dynamics-adapter] RetrieveMetadataChanges returned an answer the adapter cannot read: ${detail}`);
}

/** The columns of an EntityMetadata list, as the adapter types them (multi-select choices included). */
function columnsOf(list: unknown): Array<[string, Column]> {
  if (!Array.isArray(list)) throw invalid('no EntityMetadata array');
  const out: Array<[string, Column]> = [];
  for (const entity of list as Array<Record<string, unknown>>) {
    const logical = str(entity?.LogicalName);
    if (!logical) throw invalid('an EntityMetadata without LogicalName');
    for (const a of Array.isArray(entity.Attributes) ? (entity.Attributes as Array<Record<string, unknown>>) : []) {
      const id = str(a?.MetadataId);
      const field = str(a?.LogicalName);
      const type = str(a?.AttributeType);
      if (!id || !field || !type) throw invalid(`a column of ${logical} without MetadataId, LogicalName or AttributeType`);
      const typeName = str((a.AttributeTypeName as { Value?: unknown } | null | undefined)?.Value);
      out.push([id.toLowerCase(), { entity: logical, field, type: type === 'Virtual' && typeName === 'MultiSelectPicklistType' ? 'MultiSelectPicklist' : type, secured: a.IsSecured === true }]);
    }
  }
  return out;
}

/** MetadataIds of deleted columns: the `Attribute` entry of a DeletedMetadataCollection (`{ Keys, Values }`). */
function deletedColumns(collection: unknown): string[] {
  const c = (collection ?? {}) as { Keys?: unknown; Values?: unknown };
  if (!Array.isArray(c.Keys) || !Array.isArray(c.Values)) return [];
  const index = c.Keys.findIndex((key) => key === 'Attribute' || key === 2);
  const ids = index < 0 ? [] : c.Values[index];
  return (Array.isArray(ids) ? ids : []).filter((id): id is string => typeof id === 'string').map((id) => id.toLowerCase());
}

/** What changed between the known columns and an answer; updates `columns` to the answer. */
export function diffColumns(columns: Map<string, Column>, changed: Array<[string, Column]>, deleted: string[]): CrmSchemaChange[] {
  const out: CrmSchemaChange[] = [];
  const gone = new Map<string, Column>();
  for (const id of deleted) {
    const old = columns.get(id);
    if (!old) continue;
    columns.delete(id);
    gone.set(`${old.entity}.${old.field}`, old);
  }
  for (const [id, column] of changed) {
    const before = columns.get(id);
    columns.set(id, column);
    const { entity, field, type, secured } = column;
    if (before) {
      if (before.type !== type) out.push({ entity, field, kind: 'type-changed', type, previousType: before.type, secured });
      else if (before.secured !== secured) out.push({ entity, field, kind: 'security-changed', type, secured });
      continue;
    }
    // Deleted and created again under the same name: another type is a type change; the same type lost its values all the same.
    const old = gone.get(`${entity}.${field}`);
    gone.delete(`${entity}.${field}`);
    if (old && old.type !== type) out.push({ entity, field, kind: 'type-changed', type, previousType: old.type, secured });
    else {
      if (old) out.push({ entity, field, kind: 'removed' });
      out.push({ entity, field, kind: 'added', type, secured });
    }
  }
  for (const old of gone.values()) out.push({ entity: old.entity, field: old.field, kind: 'removed' });
  return out;
}

export function createSchemaFeed(http: HttpClient, metadata: MetadataService) {
  let state: FeedState | null = null;

  const request = async (tables: string[], stamp: string | null, signal: AbortSignal | undefined) => {
    const query = {
      Criteria: { FilterOperator: 'And', Conditions: [{ PropertyName: 'LogicalName', ConditionOperator: 'In', Value: { Type: 'System.String[]', Value: tables } }] },
      Properties: { AllProperties: false, PropertyNames: ['LogicalName', 'Attributes'] },
      AttributeQuery: { Properties: { AllProperties: false, PropertyNames: ['LogicalName', 'AttributeType', 'AttributeTypeName', 'IsSecured'] } },
    };
    const params = new URLSearchParams({ '@p1': JSON.stringify(query) });
    let signature = 'Query=@p1';
    if (stamp !== null) {
      params.set('@p2', stringLiteral(stamp));
      params.set('@p3', "Microsoft.Dynamics.CRM.DeletedMetadataFilters'Attribute'");
      signature += ',ClientVersionStamp=@p2,DeletedMetadataFilters=@p3';
    }
    // GET /api/data/v9.2/RetrieveMetadataChanges(Query=@p1[,ClientVersionStamp=@p2,DeletedMetadataFilters=@p3])?@p1=...
    const url = `RetrieveMetadataChanges(${signature})?${params.toString().replace(/\+/g, '%20')}`;
    const { body } = await getJsonObject(http, url, 'RetrieveMetadataChanges', signal);
    const next = str(body.ServerVersionStamp);
    if (!next) throw invalid('no ServerVersionStamp');
    return { body, next };
  };

  /** CrmAdapter.schemaChanges: a baseline first (and after an unusable stamp), then what changed since. */
  const changes = async (entities: readonly EntityDefinition[], signal?: AbortSignal): Promise<CrmSchemaChange[]> => {
    const tables = [...new Set(entities.map((e) => name(e.name, 'entity logical name')))].sort();
    const key = tables.join(',');
    const startedAt = performance.now();
    if (state === null || state.tables !== key) {
      const { body, next } = await request(tables, null, signal);
      state = { tables: key, stamp: next, columns: new Map(columnsOf(body.EntityMetadata)), since: startedAt };
      metadata.watched(startedAt, startedAt);
      return [];
    }
    let answer: Awaited<ReturnType<typeof request>>;
    try {
      answer = await request(tables, state.stamp, signal);
    } catch (error) {
      // An expired or unknown stamp (400): start over with a baseline; definitions cached before it are read again.
      if (!(isSyncError(error, 'CRM_REQUEST_REJECTED') && error.details.status === 400)) throw error;
      state = null;
      for (const entity of entities) metadata.forget(entity);
      return changes(entities, signal);
    }
    const found = diffColumns(state.columns, columnsOf(answer.body.EntityMetadata), deletedColumns(answer.body.DeletedMetadata));
    state.stamp = answer.next;
    // A changed table is described from a fresh read next time.
    for (const entity of entities) if (found.some((c) => c.entity === entity.name)) metadata.forget(entity);
    metadata.watched(state.since, startedAt);
    return found;
  };

  return { changes };
}
