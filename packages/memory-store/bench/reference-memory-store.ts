/**
 * The memory store as it was before commit was reworked (a copy of src/memory-store.ts at that
 * time), kept as the reference of bench/commit.ts and as the oracle of the randomized comparison
 * in test/memory-store.test.ts. Not exported. Brought to the store contract of each day (today:
 * a `StoreDriver` behind core's `defineStore`, `companyFrom`, fan-outs with a `log` template) with the
 * same data structures, so the comparison stays with the implementation before the rework.
 */
import type {
  Activity,
  ActivityInput,
  Collision,
  FanOut,
  LocalRecord,
  Page,
  PageOptions,
  QuarantineEntry,
  RecordWrite,
  StoreBatch,
  SyncStore,
  WriteContext,
} from '@crm-sync/core';
import { defineStore, sameValue } from '@crm-sync/core';

type StoredRecord = Omit<LocalRecord, 'entity'>;

interface EntityTable {
  records: Map<string, StoredRecord>;
  byCrmId: Map<string, string>;
  byAccount: Map<string, Set<string>>;
  /** Ids in the outbox (pending fields, or marked for sync without a CRM id). */
  outbox: Set<string>;
  /** Sorted ids, rebuilt lazily after inserts (listing 1M records must not sort on every call). */
  sortedIds: string[] | null;
}

/**
 * Everything the memory store holds. Pass your own to `createMemoryStore` to look under the API in
 * tests, or to keep data across store instances in one process.
 */
export interface MemoryStoreData {
  tables: Map<string, EntityTable>;
  checkpoints: Map<string, string>;
  state: Map<string, string>;
  activities: Activity[];
  activitiesByRecord: Map<string, Activity[]>;
  collisions: Collision[];
  quarantine: QuarantineEntry[];
  leases: Map<string, { owner: string; expiresAt: number }>;
  seq: number;
}

export function createMemoryStoreData(): MemoryStoreData {
  return {
    tables: new Map(),
    checkpoints: new Map(),
    state: new Map(),
    activities: [],
    activitiesByRecord: new Map(),
    collisions: [],
    quarantine: [],
    leases: new Map(),
    seq: 0,
  };
}

export interface MemoryStoreOptions {
  /** Shared or pre-filled data (tests use it as a backdoor). */
  data?: MemoryStoreData;
  /** Clock for `updatedAt` and log times. */
  now?: () => Date;
}

function table(data: MemoryStoreData, entity: string): EntityTable {
  let t = data.tables.get(entity);
  if (!t) {
    t = { records: new Map(), byCrmId: new Map(), byAccount: new Map(), outbox: new Set(), sortedIds: [] };
    data.tables.set(entity, t);
  }
  return t;
}

function inOutbox(r: StoredRecord): boolean {
  return r.pending.length > 0 || (r.syncToCrm && r.crmId === null && !r.crmDeleted);
}

function copyOut(entity: string, r: StoredRecord): LocalRecord {
  return { entity, ...r, fields: { ...r.fields }, base: { ...r.base }, company: { ...r.company }, pending: [...r.pending] };
}

function recordKey(entity: string, id: string): string {
  return `${entity}\u0000${id}`;
}

/** Cursor paging over an ascending list by a key. */
function pageOf<T>(items: Iterable<T>, key: (item: T) => string | number, options: PageOptions): Page<T> {
  const out: T[] = [];
  for (const item of items) {
    if (options.after !== undefined && key(item) <= options.after) continue;
    if (out.length === options.limit) return { items: out, next: key(out[out.length - 1] as T) };
    out.push(item);
  }
  return { items: out, next: null };
}

/**
 * An in-process SyncStore. Every commit is validated first and then applied without yielding, so
 * a batch is all-or-nothing and no other call can interleave with it. Nothing survives the process.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): SyncStore {
  const data = options.data ?? createMemoryStoreData();
  const now = options.now ?? (() => new Date());

  function sorted(t: EntityTable): string[] {
    if (!t.sortedIds) t.sortedIds = [...t.records.keys()].sort();
    return t.sortedIds;
  }

  function validate(batch: StoreBatch, context: WriteContext): void {
    if (context.lease) {
      const held = data.leases.get(batch.entity);
      if (!held || held.owner !== context.lease.owner || held.expiresAt < now().getTime()) context.leaseLost();
    }
    const t = data.tables.get(batch.entity);
    const stale: string[] = [];
    for (const w of batch.records ?? []) {
      const current = t?.records.get(w.id);
      if ((current?.revision ?? 0) !== w.expectedRevision) stale.push(w.id);
    }
    if (stale.length > 0) context.conflict(stale);
  }

  function writeRecord(t: EntityTable, w: RecordWrite, at: string): void {
    const current = t.records.get(w.id);
    const next: StoredRecord = current
      ? { ...current, fields: { ...current.fields }, base: { ...current.base }, company: { ...current.company } }
      : {
          id: w.id, crmId: null, crmVersion: null, revision: 0, fields: {}, base: {}, pending: [], accountId: null,
          company: {}, crmDeleted: false, syncToCrm: false, seenIn: null, updatedAt: at,
        };
    if (w.crmId !== undefined) next.crmId = w.crmId;
    if (w.crmVersion !== undefined) next.crmVersion = w.crmVersion;
    if (w.fields) Object.assign(next.fields, w.fields);
    if (w.base) Object.assign(next.base, w.base);
    if (w.companyFrom) {
      const source = data.tables.get(w.companyFrom.entity);
      const id = w.companyFrom.crmId === null ? undefined : source?.byCrmId.get(w.companyFrom.crmId);
      next.company = { ...(id === undefined ? {} : source?.records.get(id)?.fields) };
    } else if (w.company) Object.assign(next.company, w.company);
    if (w.pending) next.pending = [...w.pending];
    if (w.accountId !== undefined) next.accountId = w.accountId;
    if (w.crmDeleted !== undefined) next.crmDeleted = w.crmDeleted;
    if (w.syncToCrm !== undefined) next.syncToCrm = w.syncToCrm;
    if (w.seenIn !== undefined) next.seenIn = w.seenIn;
    next.revision += 1;
    next.updatedAt = at;

    if (current?.crmId !== next.crmId) {
      if (current?.crmId) t.byCrmId.delete(current.crmId);
      if (next.crmId) t.byCrmId.set(next.crmId, w.id);
    }
    if (current?.accountId !== next.accountId) {
      if (current?.accountId) t.byAccount.get(current.accountId)?.delete(w.id);
      if (next.accountId) {
        let members = t.byAccount.get(next.accountId);
        if (!members) t.byAccount.set(next.accountId, (members = new Set()));
        members.add(w.id);
      }
    }
    if (inOutbox(next)) t.outbox.add(w.id);
    else t.outbox.delete(w.id);
    if (!current) t.sortedIds = null;
    t.records.set(w.id, next);
  }

  function appendActivity(input: ActivityInput, at: string): void {
    const activity: Activity = {
      entity: input.entity, recordId: input.recordId, type: input.type, source: input.source,
      field: input.field ?? null, oldValue: input.oldValue ?? null, newValue: input.newValue ?? null,
      detail: input.detail ?? null, seq: ++data.seq, at,
    };
    data.activities.push(activity);
    const key = recordKey(input.entity, input.recordId);
    let list = data.activitiesByRecord.get(key);
    if (!list) data.activitiesByRecord.set(key, (list = []));
    list.push(activity);
  }

  function fanOut(f: FanOut, at: string): void {
    const t = data.tables.get(f.entity);
    const members = t?.byAccount.get(f.accountId);
    if (!t || !members) return;
    for (const id of members) {
      const r = t.records.get(id);
      if (!r) continue;
      for (const [key, field] of Object.entries(f.log?.fields ?? {})) {
        const oldValue = r.company[key] ?? null;
        const newValue = f.company[key] ?? null;
        if (f.log && !sameValue(oldValue, newValue)) {
          appendActivity({ entity: f.entity, recordId: id, type: f.log.type, source: f.log.source, field, oldValue, newValue, detail: f.log.detail }, at);
        }
      }
      t.records.set(id, { ...r, company: { ...r.company, ...f.company }, revision: r.revision + 1, updatedAt: at });
    }
  }

  return defineStore({
    name: 'memory',
    capabilities: { persistent: false, sharedAcrossProcesses: false, leases: true },

    async write(batch, context) {
      validate(batch, context);
      const at = now().toISOString();
      if (context.lease) data.leases.set(batch.entity, { owner: context.lease.owner, expiresAt: now().getTime() + context.lease.ttlMs });
      const t = table(data, batch.entity);
      for (const w of batch.records ?? []) writeRecord(t, w, at);
      if (batch.checkpoint !== undefined) {
        if (batch.checkpoint === null) data.checkpoints.delete(batch.entity);
        else data.checkpoints.set(batch.entity, batch.checkpoint);
      }
      for (const [key, value] of Object.entries(batch.state ?? {})) {
        if (value === null) data.state.delete(key);
        else data.state.set(key, value);
      }
      for (const f of batch.fanOuts ?? []) fanOut(f, at);
      for (const a of batch.activities ?? []) appendActivity(a, at);
      for (const c of batch.collisions ?? []) data.collisions.push({ ...c, seq: ++data.seq, at });
      const resolve = new Set(batch.resolveQuarantine ?? []);
      if (resolve.size > 0) {
        for (const q of data.quarantine) {
          if (q.resolvedAt !== null || q.entity !== batch.entity || q.recordId === null || !resolve.has(q.recordId)) continue;
          if (batch.resolveDirection === undefined || q.direction === batch.resolveDirection) q.resolvedAt = at;
        }
      }
      for (const q of batch.quarantine ?? []) data.quarantine.push({ ...q, seq: ++data.seq, at, resolvedAt: null });
    },

    async getCheckpoint(entity) {
      return data.checkpoints.get(entity) ?? null;
    },

    async getState(key) {
      return data.state.get(key) ?? null;
    },

    async getRecords(entity, ids) {
      const t = data.tables.get(entity);
      if (!t) return [];
      return ids.flatMap((id) => {
        const r = t.records.get(id);
        return r ? [copyOut(entity, r)] : [];
      });
    },

    async getRecordsByCrmId(entity, crmIds) {
      const t = data.tables.get(entity);
      if (!t) return [];
      return crmIds.flatMap((crmId) => {
        const id = t.byCrmId.get(crmId);
        const r = id === undefined ? undefined : t.records.get(id);
        return r ? [copyOut(entity, r)] : [];
      });
    },

    async listRecords(entity, options) {
      const t = data.tables.get(entity);
      if (!t) return { items: [], next: null };
      const where = Object.entries(options.where ?? {});
      const matches = function* (): Generator<LocalRecord> {
        for (const id of sorted(t)) {
          const r = t.records.get(id);
          if (r && where.every(([f, v]) => sameValue(r.fields[f], v))) yield copyOut(entity, r);
        }
      };
      return pageOf(matches(), (r) => r.id, options);
    },

    async listOutbox(entity, options) {
      const t = data.tables.get(entity);
      if (!t) return { items: [], next: null };
      const ids = [...t.outbox].sort();
      return pageOf(
        (function* () {
          for (const id of ids) yield copyOut(entity, t.records.get(id) as StoredRecord);
        })(),
        (r) => r.id,
        options,
      );
    },

    async listUnseen(entity, snapshotId, options) {
      const t = data.tables.get(entity);
      if (!t) return { items: [], next: null };
      const unseen = function* (): Generator<LocalRecord> {
        for (const id of sorted(t)) {
          const r = t.records.get(id);
          if (r && r.crmId !== null && !r.crmDeleted && r.seenIn !== snapshotId) yield copyOut(entity, r);
        }
      };
      return pageOf(unseen(), (r) => r.id, options);
    },

    async countByAccount(entity, accountIds) {
      const counts = new Map<string, number>();
      const t = data.tables.get(entity);
      for (const id of accountIds) {
        const size = t?.byAccount.get(id)?.size ?? 0;
        if (size > 0) counts.set(id, size);
      }
      return counts;
    },

    async listActivities(options) {
      const source =
        options.recordId !== undefined && options.entity !== undefined
          ? (data.activitiesByRecord.get(recordKey(options.entity, options.recordId)) ?? [])
          : data.activities.filter(
              (a) =>
                (options.entity === undefined || a.entity === options.entity) &&
                (options.recordId === undefined || a.recordId === options.recordId),
            );
      return pageOf(source, (a) => a.seq, options);
    },

    async listCollisions(options) {
      return pageOf(
        data.collisions.filter((c) => options.entity === undefined || c.entity === options.entity),
        (c) => c.seq,
        options,
      );
    },

    async listQuarantine(options) {
      return pageOf(
        data.quarantine.filter(
          (q) => (options.entity === undefined || q.entity === options.entity) && (options.includeResolved || q.resolvedAt === null),
        ),
        (q) => q.seq,
        options,
      );
    },

    async stats(entity) {
      const t = data.tables.get(entity);
      let crmDeleted = 0;
      for (const r of t?.records.values() ?? []) if (r.crmDeleted) crmDeleted += 1;
      return {
        records: t?.records.size ?? 0,
        pending: t?.outbox.size ?? 0,
        crmDeleted,
        quarantined: data.quarantine.filter((q) => q.entity === entity && q.resolvedAt === null).length,
      };
    },

    async acquireLease(entity, lease) {
      const held = data.leases.get(entity);
      const at = now().getTime();
      if (held && held.owner !== lease.owner && held.expiresAt >= at) return false;
      data.leases.set(entity, { owner: lease.owner, expiresAt: at + lease.ttlMs });
      return true;
    },

    async releaseLease(entity, owner) {
      if (data.leases.get(entity)?.owner === owner) data.leases.delete(entity);
    },

  });
}
