import { assertCanCreateInCrm, SyncError } from '@crm-sync/core';
import type { ChangePage, CrmAdapter, CrmField, CrmRecord, CrmWriteResult, EntityDefinition, FieldMap, LookupValue } from '@crm-sync/core';

/**
 * A CRM held in memory, behind the CrmAdapter contract: row versions, snapshot and delta
 * checkpoints, deletes, collisions on stale versions, field access. What a real adapter does over
 * HTTP happens here on maps; the shape of the work (pages, checkpoints, results) is the same.
 */
interface Row {
  fields: FieldMap;
  lookups: Record<string, LookupValue | null>;
  /** Every change takes the next number of one counter: a delta is "changes above N". */
  version: number;
  modifiedBy: string;
}
interface Table {
  fields: CrmField[];
  rows: Map<string, Row>;
  /** Deleted ids and the version of their delete (what change tracking remembers). */
  deletes: Map<string, number>;
}
/** A full read in progress (resumes after `after`, in the same snapshot), or a delta since a version. */
type Checkpoint = { mode: 'snapshot'; snapshot: string; after: string | null; start: number } | { mode: 'delta'; version: number };

export const SYNC_USER = 'sync-user';
export const SALES_USER = 'sales-user';

/** A readable, updatable text column, with overrides. */
export function field(name: string, overrides: Partial<CrmField> = {}): CrmField {
  return { name, type: 'String', valueKind: 'text', custom: false, canRead: true, canUpdate: true, secured: false, ...overrides };
}

/** The adapter, plus the hand on the CRM behind it that tests use. */
export interface MemoryCrm extends CrmAdapter {
  defineTable(entity: string, fields: CrmField[]): void;
  /** Inserts or updates a row as `asUser` (default a salesperson). */
  put(entity: string, id: string, fields: FieldMap, options?: { asUser?: string; lookups?: Record<string, LookupValue | null> }): void;
  remove(entity: string, id: string): void;
  row(entity: string, id: string): Row | undefined;
  /** Ids of the table's rows, in order. */
  ids(entity: string): string[];
  addField(entity: string, field: CrmField): void;
  /** Field security on a column: what the sync user may still do with it (default: nothing). */
  secureField(entity: string, name: string, access?: { read: boolean; update: boolean }): void;
  /** Makes every delta checkpoint issued so far unusable (as an expired change token). */
  expireCheckpoints(): void;
  /** Forgets deletes (as a CRM whose change tracking no longer holds them). */
  forgetDeletes(): void;
  /** Rows whose next read arrives damaged (as a bad response would): rejected once, fine afterwards. */
  damageOnce: Set<string>;
  /** Adapter calls by name. */
  calls: Record<string, number>;
  pageSize: number;
}

const fail = (code: ConstructorParameters<typeof SyncError>[0], message: string, details: Record<string, unknown> = {}) =>
  new SyncError(code, `[memory-crm] ${message}`, { details });

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw fail('ABORTED', 'Aborted');
}

/** A checkpoint this CRM issued, or null for anything else (the caller starts a full read). */
function parseCheckpoint(text: string | null): Checkpoint | null {
  try {
    const cp = JSON.parse(text ?? 'null') as Checkpoint | null;
    if (cp?.mode === 'delta' && Number.isInteger(cp.version)) return cp;
    if (cp?.mode === 'snapshot' && typeof cp.snapshot === 'string' && Number.isInteger(cp.start)) return cp;
  } catch {
    // not ours: a full read follows
  }
  return null;
}

export function createMemoryCrm(options: { pageSize?: number } = {}): MemoryCrm {
  const tables = new Map<string, Table>();
  let version = 0;
  let snapshots = 0;
  let expiredBefore = 0;
  const calls: Record<string, number> = {};
  const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);
  const table = (entity: string): Table => {
    const t = tables.get(entity);
    if (!t) throw fail('CRM_REQUEST_REJECTED', `no table ${entity}`, { entity });
    return t;
  };
  const columnOf = (t: Table, name: string) => t.fields.find((f) => f.name === name);
  const toRecord = (id: string, row: Row, fields: readonly string[]): CrmRecord => ({
    id,
    version: String(row.version),
    fields: Object.fromEntries(fields.map((f) => [f, row.fields[f] ?? null])),
    lookups: { ...row.lookups },
    bySyncUser: row.modifiedBy === SYNC_USER,
    modifiedOn: null,
  });
  /** R6: a column the sync user cannot read is never handed out as null in place of its value. */
  const readable = (entity: string, t: Table, fields: readonly string[]): readonly string[] => {
    const unknown = fields.filter((f) => !columnOf(t, f));
    if (unknown.length > 0) throw fail('FIELD_NOT_IN_CRM', `${entity} has no column(s) ${unknown.join(', ')}`, { entity, fields: unknown });
    const hidden = fields.filter((f) => !columnOf(t, f)?.canRead);
    if (hidden.length > 0) {
      throw fail('CRM_SCHEMA_CHANGED', `The sync user can no longer read ${hidden.join(', ')} of ${entity}`, { entity, fields: hidden });
    }
    return fields;
  };
  /** Splits records into good ones and the ones damaged in transit this time. */
  const deliver = (records: CrmRecord[]): Pick<ChangePage, 'upserts' | 'rejected'> => {
    const damaged = records.filter((r) => crm.damageOnce.delete(r.id));
    return {
      upserts: records.filter((r) => !damaged.includes(r)),
      rejected: damaged.map((r) => ({ id: r.id, reason: 'a value of the wrong type: expected text, got a number', raw: r })),
    };
  };
  /** R8, R6: refuses a call naming a field the CRM does not have before anything is written. */
  const checkWrite = (entity: string, t: Table, rows: ReadonlyArray<{ fields: FieldMap }>): void => {
    const unknown = [...new Set(rows.flatMap((r) => Object.keys(r.fields)))].filter((f) => !columnOf(t, f));
    if (unknown.length > 0) throw fail('FIELD_NOT_IN_CRM', `Refusing to write ${entity}: no column(s) ${unknown.join(', ')} in the CRM`, { entity, fields: unknown });
  };

  const crm: MemoryCrm = {
    name: 'memory-crm',
    capabilities: { incrementalPull: true, batchWrites: false, createWithClientId: true },
    calls,
    damageOnce: new Set(),
    pageSize: options.pageSize ?? 3,

    defineTable(entity, fields) {
      tables.set(entity, { fields, rows: new Map(), deletes: new Map() });
    },
    put(entity, id, fields, opts = {}) {
      const t = table(entity);
      const current = t.rows.get(id);
      t.rows.set(id, {
        fields: { ...current?.fields, ...fields },
        lookups: { ...current?.lookups, ...opts.lookups },
        version: ++version,
        modifiedBy: opts.asUser ?? SALES_USER,
      });
      t.deletes.delete(id);
    },
    remove(entity, id) {
      const t = table(entity);
      t.rows.delete(id);
      t.deletes.set(id, ++version);
    },
    row: (entity, id) => tables.get(entity)?.rows.get(id),
    ids: (entity) => [...table(entity).rows.keys()].sort(),
    addField(entity, f) {
      table(entity).fields.push(f);
    },
    secureField(entity, name, access = { read: false, update: false }) {
      const f = columnOf(table(entity), name);
      if (!f) throw fail('FIELD_NOT_IN_CRM', `no column ${entity}.${name}`);
      const reason = !access.read ? 'secured column: no read privilege' : !access.update ? 'secured column: no update privilege' : undefined;
      Object.assign(f, { secured: true, canRead: access.read, canUpdate: access.read && access.update, reason });
    },
    expireCheckpoints() {
      expiredBefore = version + 1;
    },
    forgetDeletes() {
      for (const t of tables.values()) t.deletes.clear();
    },

    async whoAmI() {
      return { userId: SYNC_USER, organizationId: 'memory-org' };
    },
    async describeEntity(entity, opts) {
      count('describeEntity');
      checkAbort(opts?.signal);
      // Copies: a schema handed out must not change when the CRM does.
      return { entity: entity.name, fields: table(entity.name).fields.map((f) => ({ ...f })), changeTracking: true };
    },
    async *pullChanges(entity, request) {
      count('pullChanges');
      checkAbort(request.signal);
      const t = table(entity.name);
      const fields = readable(entity.name, t, request.fields);
      const parsed = parseCheckpoint(request.checkpoint);
      const expired = parsed?.mode === 'delta' && parsed.version < expiredBefore;
      // No checkpoint, one not ours, or an expired one: a full read, which finds deletes by reconciliation (R12).
      const cp: Checkpoint = parsed && !expired ? parsed : { mode: 'snapshot', snapshot: `s${++snapshots}`, after: null, start: version };
      if (cp.mode === 'snapshot') {
        const ids = [...t.rows.keys()].sort().filter((id) => cp.after === null || id > cp.after);
        for (let i = 0; i === 0 || i < ids.length; i += crm.pageSize) {
          checkAbort(request.signal);
          count('page');
          const chunk = ids.slice(i, i + crm.pageSize);
          const last = i + crm.pageSize >= ids.length;
          const next: Checkpoint = last ? { mode: 'delta', version: cp.start } : { ...cp, after: chunk.at(-1) as string };
          yield {
            ...deliver(chunk.map((id) => toRecord(id, t.rows.get(id) as Row, fields))),
            deletes: [],
            checkpoint: JSON.stringify(next),
            snapshot: { id: cp.snapshot, complete: last },
          };
        }
        return;
      }
      const changes = [
        ...[...t.rows].filter(([, r]) => r.version > cp.version).map(([id, r]) => ({ id, version: r.version, row: r as Row | null })),
        ...[...t.deletes].filter(([, v]) => v > cp.version).map(([id, v]) => ({ id, version: v, row: null as Row | null })),
      ].sort((a, b) => a.version - b.version);
      for (let i = 0; i === 0 || i < changes.length; i += crm.pageSize) {
        checkAbort(request.signal);
        count('page');
        const chunk = changes.slice(i, i + crm.pageSize);
        yield {
          ...deliver(chunk.filter((c) => c.row).map((c) => toRecord(c.id, c.row as Row, fields))),
          deletes: chunk.filter((c) => !c.row).map((c) => c.id),
          checkpoint: JSON.stringify({ mode: 'delta', version: chunk.at(-1)?.version ?? cp.version }),
          snapshot: null,
        };
      }
    },
    async *readAll(entity, request) {
      count('readAll');
      checkAbort(request.signal);
      const t = table(entity.name);
      const fields = readable(entity.name, t, request.fields);
      const ids = [...t.rows.keys()].sort();
      for (let i = 0; i < ids.length; i += crm.pageSize) {
        checkAbort(request.signal);
        yield { rows: ids.slice(i, i + crm.pageSize).map((id) => toRecord(id, t.rows.get(id) as Row, fields)), rejected: [] };
      }
    },
    async readRecords(entity, request) {
      count('readRecords');
      checkAbort(request.signal);
      const t = table(entity.name);
      const fields = readable(entity.name, t, request.fields);
      const found = request.ids.filter((id) => t.rows.has(id));
      const delivered = deliver(found.map((id) => toRecord(id, t.rows.get(id) as Row, fields)));
      return { rows: delivered.upserts, rejected: delivered.rejected, missing: request.ids.filter((id) => !t.rows.has(id)) };
    },
    async updateRecords(entity, updates) {
      count('updateRecords');
      const t = table(entity.name);
      checkWrite(entity.name, t, updates);
      return updates.map((u): CrmWriteResult => {
        const row = t.rows.get(u.id);
        if (!row) return { id: u.id, ok: false, kind: 'not-found', message: `${entity.name} With Id = ${u.id} Does Not Exist`, status: 404 };
        if (u.ifVersion !== null && u.ifVersion !== String(row.version)) {
          return { id: u.id, ok: false, kind: 'collision', message: "The version of the existing record doesn't match the RowVersion property provided.", status: 412 };
        }
        // Fields the sync user may not update: the row is refused naming them, so the others can be sent again.
        const refused = Object.keys(u.fields).filter((f) => !columnOf(t, f)?.canUpdate);
        if (refused.length > 0) {
          return { id: u.id, ok: false, kind: 'rejected', message: `The sync user may not update ${refused.join(', ')} of ${entity.name}`, status: 403, fields: refused };
        }
        // A field's declared maxLength, else a limit of 100 its metadata does not report (as with a CRM
        // rule no metadata describes): longer values fail validation.
        const limit = (name: string) => columnOf(t, name)?.maxLength ?? 100;
        const tooLong = Object.entries(u.fields).find(([f, v]) => typeof v === 'string' && v.length > limit(f));
        if (tooLong) {
          const message = `A validation error occurred.  The length of the '${tooLong[0]}' attribute of the '${entity.name}' entity exceeded the maximum allowed length of '${limit(tooLong[0])}'.`;
          return { id: u.id, ok: false, kind: 'rejected', message, status: 400 };
        }
        crm.put(entity.name, u.id, u.fields, { asUser: SYNC_USER });
        return { id: u.id, ok: true, version: String(version), created: false };
      });
    },
    async createRecords(entity: EntityDefinition, creates) {
      count('createRecords');
      assertCanCreateInCrm(entity); // R5, before anything else
      const t = table(entity.name);
      checkWrite(entity.name, t, creates);
      return creates.map((c): CrmWriteResult => {
        if (t.rows.has(c.id)) return { id: c.id, ok: false, kind: 'exists', message: 'A record with matching key values already exists.', status: 412 };
        crm.put(entity.name, c.id, c.fields, { asUser: SYNC_USER });
        return { id: c.id, ok: true, version: String(version), created: true };
      });
    },
  };
  return crm;
}
