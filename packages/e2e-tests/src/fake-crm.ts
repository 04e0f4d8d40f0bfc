import type {
  ChangePage,
  CrmAdapter,
  CrmField,
  CrmRecord,
  EntityDefinition,
  FieldMap,
  LookupValue,
} from '@crm-sync/core';
import { assertCanCreateInCrm } from '@crm-sync/core';

/**
 * An in-process CRM implementing the CrmAdapter contract with real semantics (versions, snapshot
 * and delta checkpoints, deletes, 412 on stale versions, field access), for fast engine tests.
 * The Dataverse wire format is tested in the adapter and simulator packages.
 */
interface Row {
  fields: FieldMap;
  lookups: Record<string, LookupValue | null>;
  version: number;
  modifiedBy: string;
}
interface Table {
  fields: CrmField[];
  rows: Map<string, Row>;
  deletes: Map<string, number>;
}
type Checkpoint = { mode: 'snapshot'; snapshot: string; after: string | null; start: number } | { mode: 'delta'; version: number };

export const SYNC_USER = 'sync-user';
export const SALES_USER = 'sales-user';

export function field(name: string, overrides: Partial<CrmField> = {}): CrmField {
  return { name, type: 'String', valueKind: 'text', custom: false, canRead: true, canUpdate: true, secured: false, ...overrides };
}

export interface FakeCrm extends CrmAdapter {
  defineTable(entity: string, fields: CrmField[]): void;
  /** Inserts or updates a row as `asUser` (default a salesperson). */
  put(entity: string, id: string, fields: FieldMap, options?: { asUser?: string; lookups?: Record<string, LookupValue | null> }): void;
  remove(entity: string, id: string): void;
  row(entity: string, id: string): Row | undefined;
  addField(entity: string, f: CrmField): void;
  /** Field security on, with no read or update privilege for the sync user. */
  secureField(entity: string, name: string): void;
  /** Makes every delta checkpoint issued so far unusable (as an expired delta token). */
  expireCheckpoints(): void;
  /** Forgets deletes (as a CRM whose change tracking no longer holds them). */
  forgetDeletes(): void;
  /** Rows whose next pull arrives damaged (as a bad response would): rejected once, fine afterwards. */
  damageOnce: Set<string>;
  /** Counts adapter calls by name. */
  calls: Record<string, number>;
  pageSize: number;
}

export function createFakeCrm(): FakeCrm {
  const tables = new Map<string, Table>();
  let version = 0;
  let snapshots = 0;
  let expiredBefore = 0;
  const calls: Record<string, number> = {};
  const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);
  const table = (entity: string): Table => {
    const t = tables.get(entity);
    if (!t) throw new Error(`fake CRM: no table ${entity}`);
    return t;
  };
  const toRecord = (id: string, row: Row, fields: readonly string[]): CrmRecord => {
    const out: FieldMap = {};
    for (const f of fields) out[f] = row.fields[f] ?? null;
    return {
      id, version: String(row.version), fields: out, lookups: { ...row.lookups }, bySyncUser: row.modifiedBy === SYNC_USER, modifiedOn: null,
    };
  };
  const readable = (t: Table, fields: readonly string[]) => fields.filter((f) => t.fields.find((x) => x.name === f)?.canRead);
  /** Splits records into good ones and the ones damaged in transit this time. */
  const deliver = (records: CrmRecord[]): Pick<ChangePage, 'upserts' | 'rejected'> => {
    const damaged = records.filter((r) => crm.damageOnce.delete(r.id));
    return {
      upserts: records.filter((r) => !damaged.includes(r)),
      rejected: damaged.map((r) => ({ id: r.id, reason: 'numberofemployees: expected an integer, got the string "many"', raw: r })),
    };
  };

  const crm: FakeCrm = {
    name: 'fake',
    capabilities: { incrementalPull: true, batchWrites: false, createWithClientId: true },
    calls,
    damageOnce: new Set(),
    pageSize: 3,

    defineTable(entity, fields) {
      tables.set(entity, { fields, rows: new Map(), deletes: new Map() });
    },
    put(entity, id, fields, options = {}) {
      const t = table(entity);
      const current = t.rows.get(id);
      t.rows.set(id, {
        fields: { ...(current?.fields ?? {}), ...fields },
        lookups: { ...(current?.lookups ?? {}), ...(options.lookups ?? {}) },
        version: ++version,
        modifiedBy: options.asUser ?? SALES_USER,
      });
      t.deletes.delete(id);
    },
    remove(entity, id) {
      const t = table(entity);
      t.rows.delete(id);
      t.deletes.set(id, ++version);
    },
    row: (entity, id) => tables.get(entity)?.rows.get(id),
    expireCheckpoints() {
      expiredBefore = version + 1;
    },
    forgetDeletes() {
      for (const t of tables.values()) t.deletes.clear();
    },
    addField(entity, f) {
      table(entity).fields.push(f);
    },
    secureField(entity, name) {
      const f = table(entity).fields.find((x) => x.name === name);
      if (!f) throw new Error(`fake CRM: no field ${entity}.${name}`);
      Object.assign(f, { secured: true, canRead: false, canUpdate: false, reason: 'secured column: no read privilege' });
    },

    async whoAmI() {
      return { userId: SYNC_USER, organizationId: 'org' };
    },
    async describeEntity(entity) {
      count('describeEntity');
      return { entity: entity.name, fields: [...table(entity.name).fields], changeTracking: true };
    },
    async *pullChanges(entity, request) {
      count('pullChanges');
      const t = table(entity.name);
      const fields = readable(t, request.fields);
      const parsed = request.checkpoint ? (JSON.parse(request.checkpoint) as Checkpoint) : null;
      const expired = parsed?.mode === 'delta' && parsed.version < expiredBefore;
      let cp: Checkpoint =
        parsed && !expired ? parsed : { mode: 'snapshot', snapshot: `s${++snapshots}`, after: null, start: version };
      if (cp.mode === 'snapshot') {
        const ids = [...t.rows.keys()].sort().filter((id) => cp.mode === 'snapshot' && (cp.after === null || id > cp.after));
        if (ids.length === 0) {
          yield { upserts: [], deletes: [], rejected: [], checkpoint: JSON.stringify({ mode: 'delta', version: cp.start }), snapshot: { id: cp.snapshot, complete: true } };
          return;
        }
        for (let i = 0; i < ids.length; i += crm.pageSize) {
          count('page');
          const chunk = ids.slice(i, i + crm.pageSize);
          const last = i + crm.pageSize >= ids.length;
          const next: Checkpoint = last ? { mode: 'delta', version: cp.start } : { ...cp, after: chunk[chunk.length - 1] as string };
          yield {
            ...deliver(chunk.map((id) => toRecord(id, t.rows.get(id) as Row, fields))),
            deletes: [],
            checkpoint: JSON.stringify(next),
            snapshot: { id: cp.snapshot, complete: last },
          };
        }
        return;
      }
      const since = cp.version;
      const changes = [
        ...[...t.rows].filter(([, r]) => r.version > since).map(([id, r]) => ({ id, version: r.version, row: r as Row | null })),
        ...[...t.deletes].filter(([, v]) => v > since).map(([id, v]) => ({ id, version: v, row: null as Row | null })),
      ].sort((a, b) => a.version - b.version);
      count('page');
      if (changes.length === 0) {
        yield { upserts: [], deletes: [], rejected: [], checkpoint: JSON.stringify({ mode: 'delta', version: since }), snapshot: null };
        return;
      }
      for (let i = 0; i < changes.length; i += crm.pageSize) {
        const chunk = changes.slice(i, i + crm.pageSize);
        cp = { mode: 'delta', version: (chunk[chunk.length - 1] as { version: number }).version };
        const page: ChangePage = {
          ...deliver(chunk.filter((c) => c.row).map((c) => toRecord(c.id, c.row as Row, fields))),
          deletes: chunk.filter((c) => !c.row).map((c) => c.id),
          checkpoint: JSON.stringify(cp),
          snapshot: null,
        };
        yield page;
      }
    },
    async *readAll(entity, request) {
      count('readAll');
      const t = table(entity.name);
      const fields = readable(t, request.fields);
      const ids = [...t.rows.keys()].sort();
      for (let i = 0; i < ids.length; i += crm.pageSize) {
        yield { rows: ids.slice(i, i + crm.pageSize).map((id) => toRecord(id, t.rows.get(id) as Row, fields)), rejected: [] };
      }
    },
    async readRecords(entity, request) {
      count('readRecords');
      const t = table(entity.name);
      const fields = readable(t, request.fields);
      const found = request.ids.filter((id) => t.rows.has(id));
      const delivered = deliver(found.map((id) => toRecord(id, t.rows.get(id) as Row, fields)));
      return { rows: delivered.upserts, rejected: delivered.rejected, missing: request.ids.filter((id) => !t.rows.has(id)) };
    },
    async updateRecords(entity, updates) {
      count('updateRecords');
      const t = table(entity.name);
      return updates.map((u) => {
        const row = t.rows.get(u.id);
        if (!row) return { id: u.id, ok: false as const, kind: 'not-found' as const, message: `${entity.name} With Id = ${u.id} Does Not Exist`, status: 404 };
        if (u.ifVersion !== null && u.ifVersion !== String(row.version)) {
          return { id: u.id, ok: false as const, kind: 'collision' as const, message: "The version of the existing record doesn't match the RowVersion property provided.", status: 412 };
        }
        // A field's declared maxLength, else a limit of 100 its metadata does not report (so local edits
        // cannot check it, as with a CRM rule no metadata describes): longer values fail validation.
        const limit = (name: string) => t.fields.find((x) => x.name === name)?.maxLength ?? 100;
        const tooLong = Object.entries(u.fields).find(([f, v]) => typeof v === 'string' && v.length > limit(f));
        if (tooLong) {
          const message = `A validation error occurred.  The length of the '${tooLong[0]}' attribute of the '${entity.name}' entity exceeded the maximum allowed length of '${limit(tooLong[0])}'.`;
          return { id: u.id, ok: false as const, kind: 'rejected' as const, message, status: 400 };
        }
        for (const f of Object.keys(u.fields)) {
          if (!t.fields.find((x) => x.name === f)?.canUpdate) throw new Error(`fake CRM: ${f} is not updatable`);
        }
        crm.put(entity.name, u.id, u.fields, { asUser: SYNC_USER });
        return { id: u.id, ok: true as const, version: String(version), created: false };
      });
    },
    async createRecords(entity: EntityDefinition, creates) {
      count('createRecords');
      assertCanCreateInCrm(entity);
      const t = table(entity.name);
      return creates.map((c) => {
        if (t.rows.has(c.id)) return { id: c.id, ok: false as const, kind: 'exists' as const, message: 'A record with matching key values already exists.', status: 412 };
        crm.put(entity.name, c.id, c.fields, { asUser: SYNC_USER });
        return { id: c.id, ok: true as const, version: String(version), created: true };
      });
    },
  };
  return crm;
}
