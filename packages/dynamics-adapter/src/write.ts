import { assertCanCreateInCrm, isSyncError, SyncError } from '@crm-sync/core';
import type { CrmCreate, CrmUpdate, CrmWriteResult, EntityDefinition, FieldMap } from '@crm-sync/core';
import { chunksOfDistinct, createBulkSupport, createRecordLocks } from './bulk.js';
import type { BulkMessage, BulkSupport } from './bulk.js';
import type { EventSink } from './events.js';
import type { HttpClient } from './http.js';
import type { MetadataService } from './metadata.js';
import { getJsonObject } from './json-read.js';
import { encodeBatch, parseBatchResponse } from './odata/batch.js';
import type { BatchOperation, BatchPartResponse } from './odata/batch.js';
import { parseErrorBody } from './odata/error-body.js';
import { etagValue, parseObject, typeProblem } from './odata/parse.js';
import { isGuid, prefer, rowPath } from './odata/query.js';
import type { AttributeInfo, EntityMetadata } from './odata/types.js';
import type { ResolvedOptions } from './options.js';

export interface WriteContext {
  http: HttpClient;
  metadata: MetadataService;
  options: ResolvedOptions;
  emit?: EventSink;
  /** Which tables have CreateMultiple and UpdateMultiple (default: asked of the service, cached). */
  bulkSupport?: BulkSupport;
}

/** One write, ready to send, with how to read its outcome. */
interface Operation {
  index: number;
  id: string;
  create: boolean;
  op: BatchOperation;
  /** The fields it sets. */
  fields: string[];
  /** Field access read again now, once per call (a write refused for field security). */
  access: () => Promise<EntityMetadata>;
  /** The record as an item of a bulk message's Targets (`@odata.type`, key, values). */
  target: Record<string, unknown>;
  /** An update checked against a version (If-Match on it): never sent in a bulk message. */
  versioned: boolean;
}

/** Statuses that are the outcome of one write; 401 and 429 are the transport's business. */
const isWriteOutcome = (status: number): boolean => status >= 400 && status < 500 && status !== 401 && status !== 429;
const isTransient = (status: number): boolean => status === 429 || status >= 500;
/** URL characters a read-back's filter may take: the Web API takes GET URLs up to 32 KB. */
const READ_BACK_FILTER_CHARS = 30_000;

export function createWriter(context: WriteContext) {
  const { http, metadata, options } = context;
  const emit = context.emit ?? (() => {});
  const bulkSupport = context.bulkSupport ?? createBulkSupport(http, options.metadataMaxAgeMs);
  const locks = createRecordLocks();

  /**
   * Every field exists in the CRM and may be written by the sync user; throws before anything is
   * sent (R8, R6). Secured columns are checked against access confirmed since the entity was
   * described: those whose privilege was lost since are returned in `lost` (their rows are refused one by one).
   */
  const checkFields = async (entity: EntityDefinition, rows: ReadonlyArray<{ fields: FieldMap }>, mode: 'create' | 'update') => {
    const names = [...new Set(rows.flatMap((r) => Object.keys(r.fields)))];
    let { metadata: meta, attributes } = await metadata.resolveFields(entity, names, undefined);
    // The key column is the row's id (in the URL), never a value to set.
    attributes = attributes.filter((a) => a.logicalName !== meta.primaryKey);
    const may = (a: AttributeInfo) => (mode === 'create' ? a.canCreate : a.canUpdate);
    const refused = attributes.filter((a) => !may(a)).map((a) => a.logicalName);
    if (refused.length > 0) {
      throw new SyncError(
        'FIELD_NOT_UPDATABLE',
        `[dynamics-adapter] Refusing to ${mode} ${entity.name}: the sync user may not set ${refused.join(', ')}`,
        { details: { entity: entity.name, fields: refused } },
      );
    }
    const lost = new Set<string>();
    if (attributes.some((a) => a.secured)) {
      meta = await metadata.confirmAccess(entity);
      attributes = attributes.map((a) => meta.attributes.get(a.logicalName) ?? a);
      for (const a of attributes) if (!may(a)) lost.add(a.logicalName);
    }
    return { meta, byName: new Map(attributes.map((a) => [a.logicalName, a])), lost };
  };

  /**
   * The JSON body: plain columns as they are, lookups as `<nav>@odata.bind`. A polymorphic lookup
   * holds only a GUID, so its target table is found by asking each possible target for the row.
   */
  const bodyOf = async (meta: EntityMetadata, byName: Map<string, AttributeInfo>, fields: FieldMap, probe: (target: string, id: string) => Promise<boolean>) => {
    const body: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(fields)) {
      const attribute = byName.get(field);
      if (!attribute) continue;
      const problem = typeProblem(attribute, value);
      if (problem) return { error: `${field}: ${problem}` };
      if (!attribute.lookup) {
        body[field] = value;
        continue;
      }
      if (value === null) {
        const first = attribute.targets[0];
        if (!first) return { error: `${field}: lookup without targets` };
        body[`${(await metadata.binding(meta, attribute, first)).navigationProperty}@odata.bind`] = null;
        continue;
      }
      const id = (value as string).toLowerCase();
      let target = attribute.targets.length === 1 ? attribute.targets[0] : undefined;
      for (const candidate of attribute.targets.length > 1 ? attribute.targets : []) {
        if (await probe(candidate, id)) {
          target = candidate;
          break;
        }
      }
      if (!target) return { error: `${field}: no ${attribute.targets.join(' or ')} with id ${id}` };
      const binding = await metadata.binding(meta, attribute, target);
      body[`${binding.navigationProperty}@odata.bind`] = `/${binding.targetEntitySet}(${id})`;
    }
    return { body };
  };

  /** Does a row exist in this table? (GET /<set>(<id>)?$select=<key>; 404 = no). */
  const prober = () => {
    const cache = new Map<string, Promise<boolean>>();
    return (target: string, id: string): Promise<boolean> => {
      const key = `${target}|${id}`;
      let found = cache.get(key);
      if (!found) {
        found = metadata.entitySet(target).then(async (set) => {
          const response = await http.send({ method: 'GET', url: rowPath(set, id), pass: (s) => s === 404 });
          return response.status < 300;
        });
        cache.set(key, found);
      }
      return found;
    };
  };

  const rejected = (id: string, message: string, status?: number, fields?: string[]): CrmWriteResult => ({
    id,
    ok: false,
    kind: 'rejected',
    message: `[dynamics-adapter] ${message}`,
    ...(status === undefined ? {} : { status }),
    ...(fields === undefined ? {} : { fields }),
  });

  /** Reads one embedded or direct response into a result. */
  const outcome = async (operation: Operation, meta: EntityMetadata, response: { status: number; body: string; etag: string | null }): Promise<CrmWriteResult> => {
    const { id, create } = operation;
    const { status } = response;
    if (status >= 200 && status < 300) {
      let version: string | null = null;
      try {
        const parsed = response.body ? (JSON.parse(response.body) as Record<string, unknown>) : {};
        if (typeof parsed['@odata.etag'] === 'string') version = etagValue(parsed['@odata.etag']);
      } catch {
        // fall back to the ETag header or a read
      }
      version ??= response.etag ? etagValue(response.etag) : await readVersion(meta, id);
      return { id, ok: true, version, created: create || status === 201 };
    }
    const error = parseErrorBody(response.body);
    const message = `${operation.op.method} ${meta.entitySet}(${id}) answered ${status}: ${error?.message || 'no message'}`;
    if (status === 412) return { id, ok: false, kind: create ? 'exists' : 'collision', message: `[dynamics-adapter] ${message}`, status };
    if (status === 404) return { id, ok: false, kind: 'not-found', message: `[dynamics-adapter] ${message}`, status };
    if (status === 403 && !create) {
      // A column secured since the plan (the cache did not know it was): the answer does not say which,
      // so access is read again; naming the fields lets core send the row's other fields without them.
      const now = await operation.access();
      const refused = operation.fields.filter((f) => now.attributes.get(f)?.canUpdate === false);
      if (refused.length > 0) return rejected(id, `${message} (the sync user can no longer update ${refused.join(', ')}: field security)`, status, refused);
    }
    return rejected(id, message, status);
  };

  /** GET /<set>(<id>)?$select=<key>: the version when a write answered without one. */
  const readVersion = async (meta: EntityMetadata, id: string): Promise<string> => {
    const { body, response } = await getJsonObject(http, `${rowPath(meta.entitySet, id)}?$select=${meta.primaryKey}`, `${meta.entitySet}(${id})`);
    const annotated = body['@odata.etag'];
    const etag = response.headers.get('etag') ?? (typeof annotated === 'string' ? annotated : undefined);
    if (!etag) throw new SyncError('CRM_RESPONSE_INVALID', `[dynamics-adapter] ${meta.entitySet}(${id}) has no ETag`);
    return etagValue(etag);
  };

  /** One operation on its own (with the transport's retries). */
  const sendOne = async (operation: Operation, meta: EntityMetadata): Promise<CrmWriteResult> => {
    const { op } = operation;
    const response = await http.send({
      method: op.method,
      url: op.url,
      ...(op.headers ? { headers: op.headers } : {}),
      ...(op.body !== undefined ? { body: op.body } : {}),
      pass: isWriteOutcome,
    });
    return outcome(operation, meta, { status: response.status, body: response.text, etag: response.headers.get('etag') });
  };

  /**
   * A write the service applied without answering for it (it stopped the batch at a later failure):
   * its version, read back. Only the sync user's own write may be taken as ours; a row changed since
   * by someone else is a collision (core pulls it, then pushes again), so no change of theirs is hidden.
   */
  const applied = async (operation: Operation, meta: EntityMetadata): Promise<CrmWriteResult> => {
    const { id, create } = operation;
    const { userId } = await metadata.whoAmI();
    const select = meta.hasModifiedBy ? `${meta.primaryKey},_modifiedby_value` : meta.primaryKey;
    // GET /<set>(<id>)?$select=<key>,_modifiedby_value
    const response = await http.send({ method: 'GET', url: `${rowPath(meta.entitySet, id)}?$select=${select}`, pass: (s) => s === 404 });
    const what = `${operation.op.method} ${meta.entitySet}(${id})`;
    if (response.status === 404) return { id, ok: false, kind: 'not-found', message: `[dynamics-adapter] ${what} applied, but the row is gone since`, status: 404 };
    const body = parseObject(response.text, `${meta.entitySet}(${id})`);
    const etag = response.headers.get('etag') ?? (typeof body['@odata.etag'] === 'string' ? body['@odata.etag'] : null);
    const by = body._modifiedby_value;
    if (etag && typeof by === 'string' && by.toLowerCase() === userId) return { id, ok: true, version: etagValue(etag), created: create };
    return { id, ok: false, kind: 'collision', message: `[dynamics-adapter] ${what} applied, but the row may have changed since: read it again`, status: 412 };
  };

  /**
   * POST /api/data/v9.2/$batch: each write its own part (own transaction) with
   * odata.continue-on-error, so one refused row leaves the others applied. Parts that were
   * throttled or failed on the server are sent again on their own. A service that does not honour
   * continue-on-error stops at the first failure and answers 400 with only that part: it names its
   * write by Content-ID; the writes before it were applied, those after it were not tried and are
   * sent again.
   */
  const sendBatch = async (operations: readonly Operation[], meta: EntityMetadata): Promise<CrmWriteResult[]> => {
    const batch = encodeBatch(operations.map((o, i) => ({ ...o.op, url: `${http.root}${o.op.url}`, contentId: String(i + 1) })));
    const response = await http.send({
      method: 'POST',
      url: '$batch',
      headers: { 'Content-Type': batch.contentType, Prefer: prefer({ continueOnError: true }) },
      body: batch.body,
      pass: (status) => status === 400,
    });
    let parts: BatchPartResponse[] = [];
    try {
      parts = parseBatchResponse(response.text, response.headers.get('content-type'));
    } catch (error) {
      if (!isSyncError(error, 'CRM_RESPONSE_INVALID')) throw error;
    }
    if (response.status === 400) {
      const part = parts.length === 1 && parts[0]!.status >= 400 ? parts[0]! : null;
      if (!part) {
        // Not a stopped batch: the request itself was refused.
        const error = parseErrorBody(response.text);
        throw new SyncError('CRM_REQUEST_REJECTED', `[dynamics-adapter] POST $batch was rejected: 400${error ? ` (${error.code || 'no code'}) ${http.redact(error.message)}` : ''}`, {
          details: { method: 'POST', path: '$batch', status: 400, crmCode: error?.code ?? null, crmMessage: error ? http.redact(error.message) : null },
        });
      }
      const failed = Number(part.contentId) - 1;
      // Its Content-ID not echoed: which write failed is unknown, so each is sent again on its own
      // (conditional, as below): the failed one gets its outcome, an applied one comes back as a collision.
      if (!(Number.isInteger(failed) && failed >= 0 && failed < operations.length)) return Promise.all(operations.map((operation) => sendOne(operation, meta)));
      const operation = operations[failed]!;
      return Promise.all([
        ...operations.slice(0, failed).map((o) => applied(o, meta)),
        isTransient(part.status) ? sendOne(operation, meta) : outcome(operation, meta, { status: part.status, body: part.body, etag: part.headers.etag ?? null }),
        // Not tried: sent again (in batches of their own).
        sendAll(operations.slice(failed + 1), meta),
      ]).then((results) => results.flat());
    }
    if (parts.length !== operations.length) {
      // An answer cut short in transit: which writes applied is unknown. Every write is conditional
      // (If-Match on the version, If-None-Match on creates), so sending each again on its own is safe:
      // one that did apply comes back as a collision or "exists", never as a second write.
      return Promise.all(operations.map((operation) => sendOne(operation, meta)));
    }
    return Promise.all(
      operations.map((operation, i) => {
        const part = parts[i]!;
        if (isTransient(part.status)) return sendOne(operation, meta);
        return outcome(operation, meta, { status: part.status, body: part.body, etag: part.headers.etag ?? null });
      }),
    );
  };

  /** Results in the order of `operations`: chunks of batchSize in parallel, a chunk of one on its own. */
  const sendAll = async (operations: readonly Operation[], meta: EntityMetadata): Promise<CrmWriteResult[]> => {
    const chunks: Operation[][] = [];
    for (let i = 0; i < operations.length; i += options.batchSize) chunks.push(operations.slice(i, i + options.batchSize));
    const done = await Promise.all(chunks.map((chunk) => (chunk.length === 1 ? Promise.all([sendOne(chunk[0]!, meta)]) : sendBatch(chunk, meta))));
    return done.flat();
  };

  /**
   * The versions of rows a bulk message wrote, read back by id (a bulk message answers none):
   * GET /<set>?$select=<key>,_modifiedby_value&$filter=<key> eq a or <key> eq b ..., as many ids a
   * request as the 32 KB URL limit allows (about 490 contacts, 510 leads), the reads in parallel. As in `applied`, a row last changed by someone else
   * since is a collision, so no change of theirs is taken for ours.
   */
  const readBack = async (operations: readonly Operation[], meta: EntityMetadata, message: BulkMessage): Promise<CrmWriteResult[]> => {
    const { userId } = await metadata.whoAmI();
    const select = meta.hasModifiedBy ? `${meta.primaryKey},_modifiedby_value` : meta.primaryKey;
    const found = new Map<string, { etag: string | null; by: unknown }>();
    // As many ids a request as keep the URL below 32 KB (`<key>%20eq%20<guid>%20or%20`, each).
    const perRead = Math.max(1, Math.floor(READ_BACK_FILTER_CHARS / (meta.primaryKey.length + 54)));
    const reads: Array<Promise<void>> = [];
    for (let i = 0; i < operations.length; i += perRead) {
      const filter = operations.slice(i, i + perRead).map((o) => `${meta.primaryKey} eq ${o.id}`).join(' or ');
      reads.push(
        getJsonObject(http, `${meta.entitySet}?$select=${select}&$filter=${encodeURIComponent(filter)}`, `${meta.entitySet} written by ${message}`).then(({ body }) => {
          for (const row of Array.isArray(body.value) ? (body.value as Array<Record<string, unknown>>) : []) {
            const id = row[meta.primaryKey];
            if (typeof id === 'string') found.set(id.toLowerCase(), { etag: typeof row['@odata.etag'] === 'string' ? row['@odata.etag'] : null, by: row._modifiedby_value });
          }
        }),
      );
    }
    await Promise.all(reads);
    return operations.map((operation): CrmWriteResult => {
      const { id, create } = operation;
      const what = `${message} ${meta.entitySet}(${id})`;
      const row = found.get(id);
      if (!row) return { id, ok: false, kind: 'not-found', message: `[dynamics-adapter] ${what} applied, but the row is gone since`, status: 404 };
      const ours = !meta.hasModifiedBy || (typeof row.by === 'string' && row.by.toLowerCase() === userId);
      if (row.etag && ours) return { id, ok: true, version: etagValue(row.etag), created: create };
      return { id, ok: false, kind: 'collision', message: `[dynamics-adapter] ${what} applied, but the row may have changed since: read it again`, status: 412 };
    });
  };

  /**
   * POST /api/data/v9.2/<set>/Microsoft.Dynamics.CRM.CreateMultiple | UpdateMultiple with
   * {"Targets":[...]}: one request for the chunk, all or nothing on standard tables. A refused
   * request is sent again as $batch, where each write is its own: the bad row gets its outcome and
   * its neighbours are written. Throttling and server errors are the transport's (retried as today).
   */
  const sendBulk = (operations: readonly Operation[], meta: EntityMetadata, message: BulkMessage): Promise<CrmWriteResult[]> =>
    locks.with(
      operations.map((o) => `${meta.entitySet}|${o.id}`),
      async () => {
        const response = await http.send({
          method: 'POST',
          url: `${meta.entitySet}/Microsoft.Dynamics.CRM.${message}`,
          headers: { 'Content-Type': 'application/json; charset=utf-8' },
          body: JSON.stringify({ Targets: operations.map((o) => o.target) }),
          pass: isWriteOutcome,
          // One request for the service protection limits, each record for the daily entitlement.
          operations: operations.length,
        });
        if (response.status >= 200 && response.status < 300) return readBack(operations, meta, message);
        emit({ type: 'bulk-fallback', entity: meta.logicalName, message, rows: operations.length, status: response.status });
        return sendAll(operations, meta);
      },
    );

  /** Results in the order of `operations`, bulk messages where the table has them and the rows allow. */
  const run = async (operations: Operation[], meta: EntityMetadata, results: CrmWriteResult[], mode: 'create' | 'update'): Promise<CrmWriteResult[]> => {
    const message: BulkMessage = mode === 'create' ? 'CreateMultiple' : 'UpdateMultiple';
    // R2: an update checked against a version goes through $batch (If-Match per row): the Web API's
    // UpdateMultiple documents no per-row version check, and a collision must never be overwritten.
    const eligible = options.bulk.enabled ? operations.filter((o) => !o.versioned) : [];
    const useBulk = eligible.length >= options.bulk.minRows && (await bulkSupport.supports(meta.logicalName, message));
    const bulk = useBulk ? eligible : [];
    const rest = useBulk ? operations.filter((o) => o.versioned) : operations;
    const settle = (done: readonly Operation[], outcomes: readonly CrmWriteResult[]) =>
      outcomes.forEach((result, i) => {
        results[done[i]!.index] = result;
      });
    await Promise.all([
      sendAll(rest, meta).then((outcomes) => settle(rest, outcomes)),
      ...chunksOfDistinct(bulk, options.bulk.size, (o) => o.id).map((chunk) => sendBulk(chunk, meta, message).then((outcomes) => settle(chunk, outcomes))),
    ]);
    return results;
  };

  const build = async (
    entity: EntityDefinition,
    rows: ReadonlyArray<{ id: string; fields: FieldMap; ifVersion?: string | null }>,
    mode: 'create' | 'update',
  ) => {
    const { meta, byName, lost } = await checkFields(entity, rows, mode);
    const probe = prober();
    let reread: Promise<EntityMetadata> | null = null;
    const access = () => (reread ??= metadata.confirmAccess(entity, undefined, true));
    const results: CrmWriteResult[] = new Array(rows.length);
    const operations: Operation[] = [];
    for (const [index, row] of rows.entries()) {
      if (!isGuid(row.id)) {
        results[index] = rejected(row.id, `${entity.name} id ${JSON.stringify(row.id)} is not a GUID`);
        continue;
      }
      const id = row.id.toLowerCase();
      const refused = Object.keys(row.fields).filter((f) => lost.has(f));
      if (refused.length > 0) {
        const message = `${entity.name} ${id} not sent: the sync user can no longer ${mode === 'create' ? 'set' : 'update'} ${refused.join(', ')} (field security)`;
        results[index] = rejected(id, message, undefined, refused);
        continue;
      }
      const built = await bodyOf(meta, byName, row.fields, probe);
      if ('error' in built) {
        results[index] = rejected(id, `${entity.name} ${id} not sent: ${built.error}`);
        continue;
      }
      const headers: Record<string, string> = {
        'Content-Type': 'application/json; charset=utf-8',
        Prefer: prefer({ returnRepresentation: true }),
        // Update: If-Match keeps PATCH from re-creating a deleted row (PATCH is an upsert).
        // Create: If-None-Match: * makes a retried create answer 412 instead of duplicating.
        ...(mode === 'create' ? { 'If-None-Match': '*' } : { 'If-Match': row.ifVersion ? `W/"${row.ifVersion}"` : '*' }),
      };
      // PATCH /api/data/v9.2/<set>(<id>)?$select=<key>: update or create-with-id, answering with the new ETag.
      const url = `${rowPath(meta.entitySet, id)}?$select=${meta.primaryKey}`;
      const target = { '@odata.type': `Microsoft.Dynamics.CRM.${meta.logicalName}`, [meta.primaryKey]: id, ...built.body };
      const versioned = mode === 'update' && Boolean(row.ifVersion);
      operations.push({ index, id, create: mode === 'create', op: { method: 'PATCH', url, headers, body: JSON.stringify(built.body) }, fields: Object.keys(row.fields), access, target, versioned });
    }
    return { meta, operations, results };
  };

  const updateRecords = async (entity: EntityDefinition, updates: readonly CrmUpdate[]): Promise<CrmWriteResult[]> => {
    if (updates.length === 0) return [];
    const { meta, operations, results } = await build(entity, updates, 'update');
    return run(operations, meta, results, 'update');
  };

  const createRecords = async (entity: EntityDefinition, creates: readonly CrmCreate[]): Promise<CrmWriteResult[]> => {
    // R5: one-way entities are never created in the CRM; refused before anything is sent.
    try {
      assertCanCreateInCrm(entity);
    } catch (error) {
      if (!isSyncError(error)) throw error;
      throw new SyncError(error.code, `[dynamics-adapter] ${error.message}`, { cause: error, details: error.details });
    }
    if (creates.length === 0) return [];
    const { meta, operations, results } = await build(entity, creates, 'create');
    return run(operations, meta, results, 'create');
  };

  return { updateRecords, createRecords };
}
