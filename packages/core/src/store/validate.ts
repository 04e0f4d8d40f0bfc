import type { StoreBatch } from '../contracts/store.js';
import { SyncError } from '../errors.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown): v is string => typeof v === 'string';
const isTextOrNull = (v: unknown): boolean => v === null || typeof v === 'string';
const isRevision = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isTextList = (v: unknown): boolean => Array.isArray(v) && v.every(isText);

/** Keys of a record write that hold text or null, and those that hold true or false. */
const TEXT_KEYS = ['crmId', 'crmVersion', 'accountId', 'seenIn'] as const;
const FLAG_KEYS = ['crmDeleted', 'syncToCrm'] as const;
const MAP_KEYS = ['fields', 'base', 'company'] as const;

/** Field history rules a store accepts (FieldHistoryRule). */
const HISTORY_RULES: ReadonlySet<string> = new Set(['create', 'pull', 'push', 'collision', 'fan-out', 'quick-sync', 'local-edit', 'account-link', 'sync-filter']);
const isFieldValueLike = (v: unknown): boolean => v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
const isCollision = (v: unknown): boolean =>
  isObject(v) && isFieldValueLike(v.localValue) && isFieldValueLike(v.crmValue) && (v.winner === 'local' || v.winner === 'crm');

const optionalMap = (v: unknown): boolean => v === undefined || isObject(v);
const optionalText = (v: unknown): boolean => v === undefined || v === null || typeof v === 'string';
const optionalFlag = (v: unknown): boolean => v === undefined || typeof v === 'boolean';

/** Every member of a record write (besides id and revision) has its type. */
function wellFormed(w: Record<string, unknown>): boolean {
  const from = w.companyFrom;
  return optionalMap(w.fields) && optionalMap(w.base) && optionalMap(w.company)
    && (w.pending === undefined || isTextList(w.pending))
    && optionalText(w.crmId) && optionalText(w.crmVersion) && optionalText(w.accountId) && optionalText(w.seenIn)
    && optionalFlag(w.crmDeleted) && optionalFlag(w.syncToCrm)
    && (from === undefined || (isObject(from) && isText(from.entity) && isTextOrNull(from.crmId)));
}

/**
 * Checks the shape of a batch, everything that needs no stored state, and throws STORE_BATCH_INVALID
 * naming the first thing wrong. What needs stored state (revisions, the lease) the driver checks as
 * it writes.
 */
export function validateBatch(store: string, batch: StoreBatch, leases: boolean): void {
  if (!isObject(batch) || !isText(batch.entity) || batch.entity === '') {
    throw new SyncError('STORE_BATCH_INVALID', `[${store}] a batch needs an entity (a non-empty text)`, { details: {} });
  }
  const entity = batch.entity;
  const invalid = (what: string, details: Record<string, unknown> = {}): never => {
    throw new SyncError('STORE_BATCH_INVALID', `[${store}] batch of ${entity}: ${what}`, { details: { entity, ...details } });
  };
  const list = (name: keyof StoreBatch): unknown[] => {
    const value: unknown = batch[name];
    if (value === undefined) return [];
    if (!Array.isArray(value)) return invalid(`${name} must be a list`);
    return value;
  };

  if (batch.lease !== undefined) {
    const lease: unknown = batch.lease;
    if (!isObject(lease) || !isText(lease.owner) || typeof lease.ttlMs !== 'number' || !(lease.ttlMs > 0)) {
      invalid('lease needs an owner (text) and a ttlMs (milliseconds, more than 0)');
    }
    if (!leases) invalid('the batch has a lease, but this store has no leases (capabilities.leases is false)');
  }

  const ids = new Set<string>();
  for (const w of list('records')) {
    if (!isObject(w) || !isText(w.id) || !isRevision(w.expectedRevision)) {
      invalid('a record write needs an id (text) and an expectedRevision (a whole number, 0 or more)');
    }
    const write = w as Record<string, unknown> & { id: string };
    if (ids.has(write.id)) invalid(`record ${entity}/${write.id} appears twice in one batch`, { id: write.id });
    ids.add(write.id);
    // One pass over a well-formed write (pages hold thousands); the member at fault is named below.
    if (!wellFormed(write)) {
      for (const key of MAP_KEYS) if (write[key] !== undefined && !isObject(write[key])) invalid(`record ${entity}/${write.id}: ${key} must be a map`, { id: write.id });
      if (write.pending !== undefined && !isTextList(write.pending)) invalid(`record ${entity}/${write.id}: pending must be a list of field names`, { id: write.id });
      for (const key of TEXT_KEYS) if (write[key] !== undefined && !isTextOrNull(write[key])) invalid(`record ${entity}/${write.id}: ${key} must be a text or null`, { id: write.id });
      for (const key of FLAG_KEYS) if (write[key] !== undefined && typeof write[key] !== 'boolean') invalid(`record ${entity}/${write.id}: ${key} must be true or false`, { id: write.id });
      invalid(`record ${entity}/${write.id}: companyFrom needs an entity (text) and a crmId (text or null)`, { id: write.id });
    }
    if (write.companyFrom !== undefined && write.company !== undefined) {
      invalid(`record ${entity}/${write.id}: companyFrom and company together (one or the other)`, { id: write.id });
    }
  }

  for (const d of list('deletes')) {
    if (!isObject(d) || !isText(d.id) || !isRevision(d.expectedRevision)) {
      invalid('a delete needs an id (text) and an expectedRevision (a whole number, 0 or more)');
    }
    const id = (d as { id: string }).id;
    if (ids.has(id)) invalid(`record ${entity}/${id} is written and deleted, or deleted twice, in one batch`, { id });
    ids.add(id);
  }

  if (batch.checkpoint !== undefined && !isTextOrNull(batch.checkpoint)) invalid('checkpoint must be a text or null');
  if (batch.state !== undefined) {
    if (!isObject(batch.state)) invalid('state must be a map');
    for (const [key, value] of Object.entries(batch.state)) if (!isTextOrNull(value)) invalid(`state ${key} must be a text or null`);
  }
  for (const name of ['activities', 'collisions', 'quarantine'] as const) {
    for (const entry of list(name)) if (!isObject(entry)) invalid(`an entry of ${name} is not an object`);
  }
  if (!list('resolveQuarantine').every(isText)) invalid('resolveQuarantine must be a list of record ids');
  if (batch.resolveDirection !== undefined && batch.resolveDirection !== 'pull' && batch.resolveDirection !== 'push') {
    invalid(`resolveDirection must be 'pull' or 'push' (got ${JSON.stringify(batch.resolveDirection)})`);
  }

  for (const h of list('history')) {
    if (!isObject(h) || !isText(h.entity) || !isText(h.recordId) || !isText(h.field) || !HISTORY_RULES.has(h.rule as string)
      || (h.side !== 'crm' && h.side !== 'local') || !isFieldValueLike(h.value) || (h.oldValue !== undefined && !isFieldValueLike(h.oldValue))
      || !optionalText(h.detail) || !(h.collision === undefined || h.collision === null || isCollision(h.collision))) {
      invalid(`a history entry needs an entity, a recordId and a field (texts), a rule (${[...HISTORY_RULES].join(', ')}), a side (crm or local), a value, and, when given, an oldValue, a detail (text or null) and a collision (localValue, crmValue, winner)`);
    }
  }

  const targets = new Set<string>();
  for (const f of list('fanOuts')) {
    if (!isObject(f) || !isText(f.entity) || !isText(f.accountId) || !isObject(f.company)) {
      invalid('a fan-out needs an entity (text), an accountId (text) and a company map');
    }
    const fanOut = f as Record<string, unknown> & { entity: string; accountId: string };
    const key = `${fanOut.entity}\u0000${fanOut.accountId}`;
    if (targets.has(key)) invalid(`two fan-outs to ${fanOut.entity} of account ${fanOut.accountId} in one batch`);
    targets.add(key);
    const log = fanOut.log;
    if (log !== undefined) {
      if (!isObject(log) || !isObject(log.fields) || !Object.values(log.fields).every(isText)
        || !isText(log.type) || !isText(log.source) || !isTextOrNull(log.detail)) {
        invalid(`the fan-out to ${fanOut.entity} of account ${fanOut.accountId}: log needs fields (a map of key to activity field), a type, a source and a detail (text or null)`);
      }
    }
    const history = fanOut.history;
    if (history !== undefined) {
      if (!isObject(history) || !isObject(history.fields) || !Object.values(history.fields).every(isText)
        || (history.side !== 'crm' && history.side !== 'local') || !isObject(history.oldValues) || !isTextOrNull(history.detail)) {
        invalid(`the fan-out to ${fanOut.entity} of account ${fanOut.accountId}: history needs fields (a map of key to history field), a side (crm or local), oldValues (a map) and a detail (text or null)`);
      }
    }
  }
}
