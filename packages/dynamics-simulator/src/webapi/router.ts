import { isGuid } from '../guid.js';
import { errors } from '../odata/errors.js';
import { propertyName } from '../schema.js';
import type { WebApiContext } from './context.js';
import { bulkMessageOf, executeBulk, readMessageFilters } from './bulk.js';
import { createEntity, deleteEntity, readEntity, upsertEntity } from './entity.js';
import { metadataDocument, retrievePrincipalAttributePrivileges, serviceDocument, whoAmI } from './functions.js';
import { jsonResponse } from './http.js';
import { readMetadata } from './metadata.js';
import { retrieveMetadataChanges } from './metadata-changes.js';
import { columnForProperty, isRowVisible, readCollection, readCount } from './query.js';
import { serializeRow } from '../odata/serialize.js';

export const API_PATH = '/api/data/v9.2/';

function onlyGet(context: WebApiContext): void {
  if (context.method !== 'GET') throw errors.methodNotAllowed(context.method);
}

/**
 * Dispatches one Web API request (not $batch) to its operation. Throws ODataError for error responses.
 * Bulk messages answer asynchronously (they hold their records while they run).
 */
export function routeWebApi(context: WebApiContext, path: string): Response | Promise<Response> {
  const segments = path
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) => decodeURIComponent(segment));
  if (segments.length === 0) {
    onlyGet(context);
    return serviceDocument(context);
  }
  const head = segments[0]!;
  if (head === '$metadata') {
    onlyGet(context);
    return metadataDocument(context);
  }
  if (head === 'WhoAmI' || head === 'WhoAmI()') {
    onlyGet(context);
    return whoAmI(context);
  }
  if (/^(Microsoft\.Dynamics\.CRM\.)?RetrieveMetadataChanges\(/.test(head)) {
    onlyGet(context);
    return retrieveMetadataChanges(context, head);
  }
  if (head.startsWith('EntityDefinitions')) {
    onlyGet(context);
    return readMetadata(context, segments);
  }
  if (head === 'sdkmessagefilters') {
    if (segments.length > 1) throw errors.segmentNotFound(segments[1]!);
    return readMessageFilters(context);
  }
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:\((.*)\))?$/.exec(head);
  const table = match ? context.org.tableBySet(match[1]!) : undefined;
  if (!match || !table) throw errors.segmentNotFound(match?.[1] ?? head);
  const key = match[2];
  if (key === undefined) {
    if (segments[1] === '$count' && segments.length === 2) {
      onlyGet(context);
      return readCount(context, table);
    }
    const message = segments.length === 2 ? bulkMessageOf(segments[1]!) : undefined;
    if (message) {
      if (!context.bulk) throw errors.badRequest(`The simulator does not run ${message} inside $batch.`);
      return executeBulk(context, table, message);
    }
    if (segments.length > 1) throw errors.segmentNotFound(segments[1]!);
    if (context.method === 'GET') return readCollection(context, table);
    if (context.method === 'POST') return createEntity(context, table);
    throw errors.methodNotAllowed(context.method);
  }
  const id = key.replace(/^\{(.*)\}$/, '$1');
  if (!isGuid(id)) {
    if (/^\w+=/.test(key)) throw errors.badRequest('Alternate keys are not supported by the simulator.', '0x80060888');
    throw errors.badRequest('Bad Request - Error in query syntax.');
  }
  const lowerId = id.toLowerCase();
  if (segments.length === 1) {
    switch (context.method) {
      case 'GET':
        return readEntity(context, table, lowerId);
      case 'PATCH':
        return upsertEntity(context, table, lowerId);
      case 'DELETE':
        return deleteEntity(context, table, lowerId);
      default:
        throw errors.methodNotAllowed(context.method);
    }
  }
  const second = segments[1]!;
  if (/^(Microsoft\.Dynamics\.CRM\.)?RetrievePrincipalAttributePrivileges(\(\))?$/.test(second) && segments.length === 2) {
    onlyGet(context);
    return retrievePrincipalAttributePrivileges(context, table, lowerId);
  }
  // A single property: accounts(<id>)/name
  const column = columnForProperty(table, second);
  if (!column || segments.length > 2) throw errors.segmentNotFound(second);
  onlyGet(context);
  const stored = context.org.getRow(table.logicalName, lowerId);
  if (!stored) throw errors.rowNotFound(table.logicalName, lowerId);
  if (!isRowVisible(context, table, stored)) {
    throw errors.privilegeDenied(context.userId, `prvRead${table.schemaName}`, table.logicalName, table.objectTypeCode);
  }
  const serialized = serializeRow({ org: context.org, userId: context.userId, preferences: context.preferences }, table, stored, [column]);
  return jsonResponse(200, {
    '@odata.context': `${context.serviceRoot}$metadata#${table.entitySetName}(${lowerId})/${propertyName(column)}`,
    value: serialized[propertyName(column)],
  });
}
