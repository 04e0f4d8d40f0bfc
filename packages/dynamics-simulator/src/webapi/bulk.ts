import { setTimeout as sleep, setImmediate as yieldTurn } from 'node:timers/promises';
import { nameGuid } from '../guid.js';
import { errors, isODataError, odataError } from '../odata/errors.js';
import type { TableDefinition } from '../schema.js';
import type { WebApiContext } from './context.js';
import { parseRowBody } from './entity.js';
import { emptyResponse, errorResponse, jsonResponse } from './http.js';
import { isRowVisible } from './query.js';

/**
 * Bulk operation messages on standard tables (Microsoft Learn, "Use bulk operation messages"):
 * `POST <set>/Microsoft.Dynamics.CRM.CreateMultiple` and `.UpdateMultiple` with `{"Targets":[...]}`,
 * each target carrying `@odata.type`. All or nothing: one failing target fails the request with its
 * error and nothing is written. Not every table supports them; `sdkmessagefilters` says which.
 */
export type BulkMessage = 'CreateMultiple' | 'UpdateMultiple';
export const BULK_MESSAGES: readonly BulkMessage[] = ['CreateMultiple', 'UpdateMultiple'];

export interface BulkMessagesInput {
  /** Tables (logical names) without CreateMultiple and UpdateMultiple. Default: none (every table has them). */
  unsupported?: string[];
}

export interface BulkMessages {
  supports(table: string, message: BulkMessage): boolean;
  /** Turns both messages on or off for a table (a test or the demo). */
  setSupport(table: string, supported: boolean): void;
  /** Bulk requests that failed because another one in flight held one of their records (the deadlock). */
  deadlocks(): number;
}

/** The per-simulator state of the bulk messages: support per table and the records held by requests in flight. */
export interface BulkRuntime extends BulkMessages {
  /** Records (table|id) a bulk request in flight is writing. */
  readonly held: Set<string>;
  countDeadlock(): void;
  /**
   * Waits while a bulk request runs: its simulated execution time when answers are held, else one
   * turn of the event loop, so that two requests sent at once overlap as they do on the real service.
   */
  hold(usage: WebApiContext['usage']): Promise<void>;
}

/** `holdFor`: real ms a request with this usage runs (0 when answers are not held). */
export function createBulkRuntime(input: BulkMessagesInput = {}, holdFor: (usage: WebApiContext['usage']) => number = () => 0): BulkRuntime {
  const unsupported = new Set(input.unsupported ?? []);
  let deadlocks = 0;
  return {
    supports: (table) => !unsupported.has(table),
    setSupport: (table, supported) => {
      if (supported) unsupported.delete(table);
      else unsupported.add(table);
    },
    deadlocks: () => deadlocks,
    held: new Set(),
    countDeadlock: () => {
      deadlocks += 1;
    },
    hold: async (usage) => {
      const wait = holdFor(usage);
      if (wait > 0) await sleep(wait);
      else await yieldTurn();
    },
  };
}

const ACTION = /^(?:Microsoft\.Dynamics\.CRM\.)(CreateMultiple|UpdateMultiple)$/;

/** The bound action name of a collection segment (`Microsoft.Dynamics.CRM.CreateMultiple`), if it is a bulk message. */
export function bulkMessageOf(segment: string): BulkMessage | undefined {
  return ACTION.exec(segment)?.[1] as BulkMessage | undefined;
}

/**
 * SQL error 1205 as Dataverse reports it when two requests update the same record at once (Learn,
 * "Use bulk operation messages", troubleshooting: "Please ensure you do not attempt concurrent
 * requests on the same records").
 */
export const deadlockError = () =>
  odataError(500, '0x80044150', 'Sql error: Generic SQL error. CRM ErrorCode: -2147204784 Sql ErrorCode: -2146232060 Sql Number: 1205');

function targetsOf(context: WebApiContext, table: TableDefinition): Array<Record<string, unknown>> {
  let body: unknown;
  try {
    body = JSON.parse(context.body || '{}');
  } catch (error) {
    throw errors.payload(table.entitySetName, `Microsoft.OData.ODataException: Invalid JSON. ${(error as Error).message}`);
  }
  const targets = (body as { Targets?: unknown } | null)?.Targets;
  if (!Array.isArray(targets) || targets.length === 0) {
    throw errors.badRequest("The parameter 'Targets' must be a non-empty array of records of the table the action is bound to.");
  }
  const type = `Microsoft.Dynamics.CRM.${table.logicalName}`;
  targets.forEach((target, i) => {
    if (typeof target !== 'object' || target === null || Array.isArray(target)) throw errors.badRequest(`Targets[${i}] is not a record.`);
    const given = (target as Record<string, unknown>)['@odata.type'];
    // Documented: "You must set the @odata.type property for each item in the Targets parameter."
    if (given === undefined) throw errors.badRequest(`Targets[${i}] has no @odata.type: every item of Targets must name its type (${type}).`);
    if (given !== type && given !== `#${type}`) throw errors.badRequest(`Targets[${i}] is a ${String(given)}, not a ${type}: all the records must be of the table the action is bound to.`);
  });
  return targets as Array<Record<string, unknown>>;
}

/**
 * POST <set>/Microsoft.Dynamics.CRM.CreateMultiple | UpdateMultiple. One request against the
 * request limit; execution time per record written (the cost model's base once, perWriteMs each).
 */
export async function executeBulk(context: WebApiContext, table: TableDefinition, message: BulkMessage): Promise<Response> {
  if (context.method !== 'POST') throw errors.methodNotAllowed(context.method);
  const bulk = context.bulk;
  if (!bulk || !bulk.supports(table.logicalName, message)) {
    // What Dataverse answers for a message not registered on the table.
    throw errors.badRequest(`The '${message}' message is not supported for the '${table.logicalName}' entity.`, '0x80040800');
  }
  const { org } = context;
  const targets = targetsOf(context, table);
  const key = table.primaryIdAttribute;
  const ids = targets.map((target, i) => {
    const raw = target[key];
    if (raw === undefined || raw === null) {
      if (message === 'UpdateMultiple') throw errors.badRequest(`Targets[${i}] has no ${key}: UpdateMultiple needs the id of each record.`);
      return null;
    }
    if (typeof raw !== 'string' || !/^[0-9a-fA-F-]{36}$/.test(raw)) throw errors.badRequest(`Targets[${i}].${key} is not a GUID.`);
    return raw.toLowerCase();
  });
  const named = ids.filter((id): id is string => id !== null);
  if (new Set(named).size !== named.length) throw errors.badRequest(`Targets name the same ${key} twice.`);
  const records = named.map((id) => `${table.logicalName}|${id}`);
  if (records.some((record) => bulk.held.has(record))) {
    bulk.countDeadlock();
    throw deadlockError();
  }
  for (const record of records) bulk.held.add(record);
  try {
    const created: string[] = [];
    const response = ((): Response => {
      try {
        org.atomically(() => {
          targets.forEach((target, i) => {
            const id = ids[i] ?? null;
            if (message === 'CreateMultiple') {
              const values = parseRowBody(org, context.userId, table, target, { mode: 'create' });
              delete values[key];
              if (id !== null && org.getRow(table.logicalName, id)) throw errors.duplicateRecord();
              created.push(org.create(table.logicalName, values, { userId: context.userId, ...(id !== null ? { id } : {}) }).id);
            } else {
              const existing = org.getRow(table.logicalName, id!);
              // Learn's troubleshooting text for this case: "Contact With Ids = <guid> Do Not Exist".
              if (!existing) throw odataError(404, '0x80040217', `${table.schemaName} With Ids = ${id} Do Not Exist`);
              if (!isRowVisible(context, table, existing)) {
                throw errors.privilegeDenied(context.userId, `prvWrite${table.schemaName}`, table.logicalName, table.objectTypeCode);
              }
              const values = parseRowBody(org, context.userId, table, target, { mode: 'update' });
              delete values[key];
              org.update(table.logicalName, id!, values, { userId: context.userId });
            }
          });
        });
      } catch (error) {
        if (!isODataError(error)) throw error;
        // All or nothing: the whole request fails with the failing record's error; nothing was written.
        return errorResponse(error);
      }
      context.usage.writes += targets.length;
      if (message === 'UpdateMultiple') return emptyResponse(204);
      return jsonResponse(200, { '@odata.context': `${context.serviceRoot}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse`, Ids: created });
    })();
    // The records stay held while the request runs on the service.
    await bulk.hold(context.usage);
    return response;
  } finally {
    for (const record of records) bulk.held.delete(record);
  }
}

/**
 * GET sdkmessagefilters: the documented availability query (Learn, "Use bulk operation messages",
 * Availability): `$filter=sdkmessageid/name eq 'CreateMultiple' and primaryobjecttypecode eq 'contact'`,
 * values inline or as parameter aliases (`@message`, `@table`). Read-only; one row per supported pair.
 */
export function readMessageFilters(context: WebApiContext): Response {
  if (context.method !== 'GET') throw errors.methodNotAllowed(context.method);
  const params = context.url.searchParams;
  const alias = (value: string): string => {
    const name = /^@\w+$/.exec(value)?.[0];
    if (!name) return value;
    const given = params.get(name);
    if (given === null) throw errors.badRequest(`The parameter alias '${name}' has no value.`);
    return given;
  };
  const literal = (value: string, what: string): string => {
    const match = /^'((?:[^']|'')*)'$/.exec(alias(value.trim()));
    if (!match) throw errors.badRequest(`sdkmessagefilters: ${what} must be a string literal.`);
    return match[1]!.replace(/''/g, "'");
  };
  let message: string | undefined;
  let table: string | undefined;
  const filter = params.get('$filter');
  if (filter !== null) {
    for (const condition of filter.split(/\s+and\s+/i)) {
      const match = /^\(?\s*(sdkmessageid\/name|primaryobjecttypecode)\s+eq\s+(.+?)\s*\)?$/.exec(condition.trim());
      if (!match) throw errors.badRequest(`sdkmessagefilters: the simulator answers only "sdkmessageid/name eq '<message>' and primaryobjecttypecode eq '<table>'", not "${condition}".`);
      if (match[1] === 'sdkmessageid/name') message = literal(match[2]!, 'sdkmessageid/name');
      else table = literal(match[2]!, 'primaryobjecttypecode');
    }
  }
  // The primary key comes back even when not selected.
  const select = (params.get('$select') ?? 'sdkmessagefilterid,primaryobjecttypecode').split(',').map((s) => s.trim());
  for (const column of select) {
    if (column !== 'sdkmessagefilterid' && column !== 'primaryobjecttypecode') throw errors.propertyNotFound(column, 'sdkmessagefilter');
  }
  const bulk = context.bulk;
  const rows: Array<Record<string, unknown>> = [];
  for (const candidate of context.org.tables()) {
    if (table !== undefined && candidate.logicalName !== table) continue;
    for (const name of BULK_MESSAGES) {
      if (message !== undefined && name !== message) continue;
      if (!bulk?.supports(candidate.logicalName, name)) continue;
      const id = nameGuid('sdkmessagefilter', name, candidate.logicalName);
      const row: Record<string, unknown> = { '@odata.etag': 'W/"1"', sdkmessagefilterid: id };
      if (select.includes('primaryobjecttypecode')) row.primaryobjecttypecode = candidate.logicalName;
      rows.push(row);
    }
  }
  context.usage.rows += rows.length;
  return jsonResponse(200, { '@odata.context': `${context.serviceRoot}$metadata#sdkmessagefilters(${select.join(',')})`, value: rows });
}
