import type {
  Activity,
  ActivityInput,
  Collision,
  FanOut,
  FieldHistoryEntry,
  FieldHistoryInput,
  FieldMap,
  LocalRecord,
  Page,
  PageOptions,
  QuarantineEntry,
  RecordRef,
  RecordWrite,
  StoreBatch,
  SyncStore,
  WriteContext,
} from '@crm-sync/core';
import { defineStore, sameValue } from '@crm-sync/core';

/**
 * A stored record. Its maps and pending list are never changed in place once stored (a write puts
 * new ones in), so records may share them (`base` is `fields` when a create gave the same map for
 * both, empty ones are shared) and reads copy them out once.
 */
type StoredRecord = Omit<LocalRecord, 'entity'> & { createdAt: string };

/** Ids in ascending order, kept up to date lazily: additions are merged in on the next read. */
interface SortedIds {
  ids: string[];
  /** Ids added since the last merge (unsorted). */
  added: string[];
  /** Ids that left the set since the last merge; still in `ids` until the next one. */
  removed: number;
}

interface EntityTable {
  records: Map<string, StoredRecord>;
  /**
   * Local id by CRM id, for records whose CRM id differs from their id (local persons created in
   * the CRM later, R14). A record that came from the CRM has id = crmId and is found by id.
   */
  byCrmId: Map<string, string>;
  /** Records by account id. */
  byAccount: Map<string, AccountMembers>;
  /** Ids in the outbox (pending fields, or marked for sync without a CRM id). */
  outbox: Set<string>;
  /** Record ids by id, for listRecords/listUnseen; may hold ids of records deleted since (skipped on read). */
  sortedIds: SortedIds;
  /** Outbox ids by id, for listOutbox; may hold ids that left the outbox since (checked on read). */
  sortedOutbox: SortedIds;
  /** Number of records flagged crmDeleted. */
  crmDeleted: number;
}

/**
 * The records of one account. An array, not a Set: adding to thousands of sets in turn (a page of
 * contacts of many accounts) costs ten times more. A record that leaves the account stays in `ids`
 * until the next read (`members` drops it and any duplicate then).
 */
interface AccountMembers {
  ids: string[];
  /** Records that have this account now. */
  count: number;
  /** Records that left since `ids` was last cleaned. */
  left: number;
}

/** Open quarantine entries of one entity. */
interface OpenQuarantine {
  count: number;
  /** Entries with a record id, by record id (what resolveQuarantine closes). */
  byRecord: Map<string, QuarantineEntry[]>;
}

/**
 * Everything the memory store holds. Pass your own to `createMemoryStore` to look under the API in
 * tests, or to keep data across store instances in one process. Create it with
 * `createMemoryStoreData()`; the indexes are the store's business.
 */
export interface MemoryStoreData {
  tables: Map<string, EntityTable>;
  checkpoints: Map<string, string>;
  state: Map<string, string>;
  activities: Activity[];
  /** Activities by `entity \0 recordId`; built lazily, it covers `activities[0 .. activitiesIndexed)`. */
  activitiesByRecord: Map<string, Activity[]>;
  activitiesIndexed: number;
  collisions: Collision[];
  quarantine: QuarantineEntry[];
  /** Open quarantine entries by entity. */
  openQuarantine: Map<string, OpenQuarantine>;
  leases: Map<string, { owner: string; expiresAt: number }>;
  /** Field history, oldest first, and its indexes (see `historyOf`): record entries by `entity \0 recordId \0 field`, fan-out entries by `entity \0 accountId \0 field`, and each record's last `account-link` seq. */
  history: FieldHistoryEntry[];
  historyByRecord: Map<string, FieldHistoryEntry[]>;
  historyByAccount: Map<string, FieldHistoryEntry[]>;
  lastLink: Map<string, number>;
  seq: number;
}

export function createMemoryStoreData(): MemoryStoreData {
  return {
    tables: new Map(),
    checkpoints: new Map(),
    state: new Map(),
    activities: [],
    activitiesByRecord: new Map(),
    activitiesIndexed: 0,
    collisions: [],
    quarantine: [],
    openQuarantine: new Map(),
    leases: new Map(),
    history: [],
    historyByRecord: new Map(),
    historyByAccount: new Map(),
    lastLink: new Map(),
    seq: 0,
  };
}

export interface MemoryStoreOptions {
  /** Shared or pre-filled data (tests use it as a backdoor). */
  data?: MemoryStoreData;
  /** Clock for `updatedAt` and log times. */
  now?: () => Date;
}

/** Shared by every record without values or pending fields; never written to. */
const EMPTY_MAP: FieldMap = Object.freeze({}) as FieldMap;
const EMPTY_LIST: string[] = Object.freeze([]) as unknown as string[];

function table(data: MemoryStoreData, entity: string): EntityTable {
  let t = data.tables.get(entity);
  if (!t) {
    t = {
      records: new Map(), byCrmId: new Map(), byAccount: new Map(), outbox: new Set(),
      sortedIds: { ids: [], added: [], removed: 0 }, sortedOutbox: { ids: [], added: [], removed: 0 }, crmDeleted: 0,
    };
    data.tables.set(entity, t);
  }
  return t;
}

function inOutbox(r: StoredRecord): boolean {
  return r.pending.length > 0 || (r.syncToCrm && r.crmId === null && !r.crmDeleted);
}

/**
 * Ids of the records of an account now, each once, in the order they (last) joined it: cleans up
 * after records that left (and came back).
 */
function members(t: EntityTable, accountId: string, m: AccountMembers): string[] {
  if (m.left === 0) return m.ids;
  const seen = new Set<string>();
  const ids: string[] = [];
  for (let i = m.ids.length - 1; i >= 0; i--) {
    const id = m.ids[i] as string;
    if (!seen.has(id) && t.records.get(id)?.accountId === accountId) ids.push(id);
    seen.add(id);
  }
  m.ids = ids.reverse();
  m.left = 0;
  return m.ids;
}

/** A fresh copy for a caller: changing it changes nothing in the store. */
function copyOut(entity: string, r: StoredRecord): LocalRecord {
  return {
    entity, id: r.id, crmId: r.crmId, crmVersion: r.crmVersion, revision: r.revision,
    fields: { ...r.fields }, base: { ...r.base }, pending: r.pending.slice(), accountId: r.accountId,
    company: { ...r.company }, crmDeleted: r.crmDeleted, syncToCrm: r.syncToCrm, seenIn: r.seenIn, updatedAt: r.updatedAt,
  };
}

function recordKey(entity: string, id: string): string {
  return `${entity}\u0000${id}`;
}

/** The ids of `ix` in ascending order, merging additions and dropping ids no longer in `members`. */
function sortedView(ix: SortedIds, members?: ReadonlySet<string>): string[] {
  if (ix.added.length === 0 && ix.removed * 2 <= ix.ids.length) return ix.ids;
  const a = ix.ids;
  const b = ix.added.sort();
  const out: string[] = [];
  let i = 0;
  let j = 0;
  let last: string | undefined;
  while (i < a.length || j < b.length) {
    const id = (j >= b.length || (i < a.length && (a[i] as string) < (b[j] as string)) ? a[i++] : b[j++]) as string;
    if (id === last || (members !== undefined && !members.has(id))) continue;
    out.push(id);
    last = id;
  }
  ix.ids = out;
  ix.added = [];
  ix.removed = 0;
  return out;
}

/** Index of the first id after the cursor (binary search; ids ascending). */
function firstAfter(ids: readonly string[], after: string | number | undefined): number {
  if (typeof after !== 'string') return 0;
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] as string) <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first log entry after the cursor (binary search; seq ascending). */
function firstAfterSeq(items: readonly { seq: number }[], after: string | number | undefined): number {
  if (after === undefined) return 0;
  const cursor = Number(after);
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((items[mid] as { seq: number }).seq <= cursor) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Cursor paging over ascending ids from `start`: `match` picks (and copies) the items. */
function pageOfIds<T>(ids: readonly string[], options: PageOptions, match: (id: string) => T | undefined, keyOf: (item: T) => string): Page<T> {
  const out: T[] = [];
  // A numeric cursor on string ids compares as the old linear filter did.
  const numeric = typeof options.after === 'number' ? options.after : undefined;
  for (let i = firstAfter(ids, options.after); i < ids.length; i++) {
    const id = ids[i] as string;
    if (numeric !== undefined && (id as unknown as number) <= numeric) continue;
    const item = match(id);
    if (item === undefined) continue;
    if (out.length === options.limit) return { items: out, next: keyOf(out[out.length - 1] as T) };
    out.push(item);
  }
  return { items: out, next: null };
}

/** Cursor paging over a log (ascending seq) from the cursor; `match` filters, items are copied. */
function pageOfLog<T extends { seq: number }>(items: readonly T[], options: PageOptions, match: (item: T) => boolean): Page<T> {
  const out: T[] = [];
  for (let i = firstAfterSeq(items, options.after); i < items.length; i++) {
    const item = items[i] as T;
    if (!match(item)) continue;
    if (out.length === options.limit) return { items: out, next: (out[out.length - 1] as T).seq };
    out.push({ ...item });
  }
  return { items: out, next: null };
}

/**
 * An in-process SyncStore. Every batch (its shape validated by core's `defineStore`) is checked
 * first (lease, revisions) without touching anything, and then applied in place without yielding,
 * so it is all-or-nothing and no other call can interleave with it. Nothing survives the process.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): SyncStore {
  const data = options.data ?? createMemoryStoreData();
  const now = options.now ?? (() => new Date());
  /**
   * What could make the batch fail and needs stored state, checked before anything is written: the
   * lease and the revisions. Returns the current record of each write (undefined for a create), so
   * applying does not look them up again.
   */
  function check(batch: StoreBatch, context: WriteContext, atMs: number): (StoredRecord | undefined)[] {
    if (context.lease) {
      const held = data.leases.get(batch.entity);
      if (!held || held.owner !== context.lease.owner || held.expiresAt < atMs) context.leaseLost();
    }
    const stale: string[] = [];
    const currents: (StoredRecord | undefined)[] = [];
    const t = data.tables.get(batch.entity);
    for (const w of batch.records ?? []) {
      const current = t?.records.get(w.id);
      currents.push(current);
      if ((current === undefined ? 0 : current.revision) !== w.expectedRevision) stale.push(w.id);
    }
    for (const d of batch.deletes ?? []) if (t?.records.get(d.id)?.revision !== d.expectedRevision) stale.push(d.id);
    if (stale.length > 0) context.conflict(stale);
    return currents;
  }

  /** Brings the indexes from what `r` was (its previous crmId, accountId, ...) to what it is now. */
  function reindex(
    t: EntityTable, r: StoredRecord, was: { crmId: string | null; accountId: string | null; outbox: boolean; crmDeleted: boolean } | null,
  ): void {
    const id = r.id;
    if (was === null ? r.crmId !== null && r.crmId !== id : was.crmId !== r.crmId) {
      if (was?.crmId && t.byCrmId.get(was.crmId) === id) t.byCrmId.delete(was.crmId);
      if (r.crmId && r.crmId !== id) t.byCrmId.set(r.crmId, id);
    }
    if (was === null ? r.accountId !== null : was.accountId !== r.accountId) {
      if (was?.accountId) {
        const m = t.byAccount.get(was.accountId);
        if (m) {
          m.count -= 1;
          m.left += 1;
          if (m.left > 1024 && m.left * 2 > m.ids.length) members(t, was.accountId, m);
        }
      }
      if (r.accountId) {
        const m = t.byAccount.get(r.accountId);
        if (m) {
          m.ids.push(id);
          m.count += 1;
        } else t.byAccount.set(r.accountId, { ids: [id], count: 1, left: 0 });
      }
    }
    const outbox = inOutbox(r);
    if (outbox !== (was?.outbox ?? false)) {
      if (outbox) {
        t.outbox.add(id);
        t.sortedOutbox.added.push(id);
        if (t.sortedOutbox.added.length > 1024 + 2 * t.outbox.size) sortedView(t.sortedOutbox, t.outbox);
      } else {
        t.outbox.delete(id);
        t.sortedOutbox.removed += 1;
      }
    }
    if (r.crmDeleted !== (was?.crmDeleted ?? false)) t.crmDeleted += r.crmDeleted ? 1 : -1;
  }

  /** The record with this CRM id, if any. */
  function byCrmId(t: EntityTable, crmId: string): StoredRecord | undefined {
    const id = t.byCrmId.get(crmId);
    if (id !== undefined) return t.records.get(id);
    const r = t.records.get(crmId);
    return r !== undefined && r.crmId === crmId ? r : undefined;
  }

  /** The fields of the stored record `ref` names (RecordWrite.companyFrom); none: an empty map. */
  function fieldsOf(ref: RecordRef): FieldMap {
    const source = data.tables.get(ref.entity);
    const record = ref.crmId === null || source === undefined ? undefined : byCrmId(source, ref.crmId);
    // The record's own map: stored maps are never changed in place, so records may share it.
    return record ? record.fields : EMPTY_MAP;
  }

  function createRecord(t: EntityTable, w: RecordWrite, at: string): void {
    const fields = w.fields ? { ...w.fields } : EMPTY_MAP;
    const r: StoredRecord = {
      id: w.id,
      crmId: w.crmId ?? null,
      crmVersion: w.crmVersion ?? null,
      revision: 1,
      fields,
      base: w.base ? (w.base === w.fields ? fields : { ...w.base }) : EMPTY_MAP,
      pending: w.pending && w.pending.length > 0 ? [...w.pending] : EMPTY_LIST,
      accountId: w.accountId ?? null,
      company: w.companyFrom ? fieldsOf(w.companyFrom) : w.company ? { ...w.company } : EMPTY_MAP,
      crmDeleted: w.crmDeleted ?? false,
      syncToCrm: w.syncToCrm ?? false,
      seenIn: w.seenIn ?? null,
      updatedAt: at,
      createdAt: at,
    };
    t.records.set(r.id, r);
    t.sortedIds.added.push(r.id);
    reindex(t, r, null);
  }

  /** Takes a record out of the table and every index (a local delete). */
  function removeRecord(t: EntityTable, r: StoredRecord): void {
    const was = { crmId: r.crmId, accountId: r.accountId, outbox: inOutbox(r), crmDeleted: r.crmDeleted };
    t.records.delete(r.id);
    reindex(t, { ...r, crmId: null, accountId: null, pending: EMPTY_LIST, syncToCrm: false, crmDeleted: false }, was);
    t.sortedIds.removed += 1;
  }

  function updateRecord(t: EntityTable, r: StoredRecord, w: RecordWrite, at: string): void {
    const was = { crmId: r.crmId, accountId: r.accountId, outbox: inOutbox(r), crmDeleted: r.crmDeleted };
    if (w.crmId !== undefined) r.crmId = w.crmId;
    if (w.crmVersion !== undefined) r.crmVersion = w.crmVersion;
    if (w.fields) r.fields = { ...r.fields, ...w.fields };
    if (w.base) r.base = { ...r.base, ...w.base };
    if (w.companyFrom) r.company = fieldsOf(w.companyFrom);
    else if (w.company) r.company = { ...r.company, ...w.company };
    if (w.pending) r.pending = w.pending.length > 0 ? [...w.pending] : EMPTY_LIST;
    if (w.accountId !== undefined) r.accountId = w.accountId;
    if (w.crmDeleted !== undefined) r.crmDeleted = w.crmDeleted;
    if (w.syncToCrm !== undefined) r.syncToCrm = w.syncToCrm;
    if (w.seenIn !== undefined) r.seenIn = w.seenIn;
    r.revision += 1;
    r.updatedAt = at;
    reindex(t, r, was);
  }

  function appendActivity(input: ActivityInput, at: string): void {
    data.activities.push({
      entity: input.entity, recordId: input.recordId, type: input.type, source: input.source,
      field: input.field ?? null, oldValue: input.oldValue ?? null, newValue: input.newValue ?? null,
      detail: input.detail ?? null, seq: ++data.seq, at,
    });
  }

  /** Activities of one record, oldest first; indexes the activities logged since the last call. */
  function activitiesOf(entity: string, recordId: string): Activity[] {
    const all = data.activities;
    for (let i = data.activitiesIndexed; i < all.length; i++) {
      const a = all[i] as Activity;
      const key = recordKey(a.entity, a.recordId);
      const list = data.activitiesByRecord.get(key);
      if (list) list.push(a);
      else data.activitiesByRecord.set(key, [a]);
    }
    data.activitiesIndexed = all.length;
    return data.activitiesByRecord.get(recordKey(entity, recordId)) ?? [];
  }

  /** Adds a history entry to the log and its indexes. */
  function indexHistory(e: FieldHistoryEntry): void {
    const push = (m: Map<string, FieldHistoryEntry[]>, key: string) => {
      const list = m.get(key);
      if (list) list.push(e);
      else m.set(key, [e]);
    };
    if (e.recordId !== null) {
      push(data.historyByRecord, `${recordKey(e.entity, e.recordId)}\u0000${e.field}`);
      if (e.rule === 'account-link') data.lastLink.set(recordKey(e.entity, e.recordId), e.seq);
    } else push(data.historyByAccount, `${recordKey(e.entity, e.accountId as string)}\u0000${e.field}`);
  }

  function appendHistory(h: FieldHistoryInput, at: string): void {
    const e: FieldHistoryEntry = {
      seq: ++data.seq, at, entity: h.entity, recordId: h.recordId, accountId: null, field: h.field, rule: h.rule, side: h.side,
      oldValue: h.oldValue ?? null, value: h.value, collision: h.collision ? { ...h.collision } : null, detail: h.detail ?? null,
    };
    data.history.push(e);
    indexHistory(e);
  }

  /** One entry per watched key for the whole account: joined to its records when read. */
  function appendFanOutHistory(f: FanOut, at: string): void {
    const h = f.history;
    if (!h) return;
    for (const [key, field] of Object.entries(h.fields)) {
      const e: FieldHistoryEntry = {
        seq: ++data.seq, at, entity: f.entity, recordId: null, accountId: f.accountId, field, rule: 'fan-out', side: h.side,
        oldValue: h.oldValues[key] ?? null, value: f.company[key] ?? null, collision: null, detail: h.detail,
      };
      data.history.push(e);
      indexHistory(e);
    }
  }

  function fanOut(f: FanOut, at: string): void {
    appendFanOutHistory(f, at);
    const t = data.tables.get(f.entity);
    const m = t?.byAccount.get(f.accountId);
    if (!t || !m) return;
    const log = f.log;
    const watched = log ? Object.entries(log.fields) : [];
    for (const id of members(t, f.accountId, m)) {
      const r = t.records.get(id);
      if (!r) continue;
      for (const [key, field] of watched) {
        const oldValue = r.company[key] ?? null;
        const newValue = f.company[key] ?? null;
        if (!sameValue(oldValue, newValue)) {
          const { type, source, detail } = log as NonNullable<FanOut['log']>;
          appendActivity({ entity: f.entity, recordId: id, type, source, field, oldValue, newValue, detail }, at);
        }
      }
      r.company = { ...r.company, ...f.company };
      r.revision += 1;
      r.updatedAt = at;
    }
  }

  function resolveQuarantine(entity: string, ids: readonly string[], direction: QuarantineEntry['direction'] | undefined, at: string): void {
    const open = data.openQuarantine.get(entity);
    if (!open || open.byRecord.size === 0) return;
    for (const id of ids) {
      const entries = open.byRecord.get(id);
      if (!entries) continue;
      const staying: QuarantineEntry[] = [];
      for (const q of entries) {
        if (direction !== undefined && q.direction !== direction) staying.push(q);
        else q.resolvedAt = at;
      }
      open.count -= entries.length - staying.length;
      if (staying.length > 0) open.byRecord.set(id, staying);
      else open.byRecord.delete(id);
    }
  }

  function quarantine(entry: QuarantineEntry): void {
    data.quarantine.push(entry);
    let open = data.openQuarantine.get(entry.entity);
    if (!open) data.openQuarantine.set(entry.entity, (open = { count: 0, byRecord: new Map() }));
    open.count += 1;
    if (entry.recordId !== null) {
      const entries = open.byRecord.get(entry.recordId);
      if (entries) entries.push(entry);
      else open.byRecord.set(entry.recordId, [entry]);
    }
  }

  return defineStore({
    name: 'memory',
    capabilities: { persistent: false, sharedAcrossProcesses: false, leases: true },

    // Called once the commit before it is written (no writesAhead): checked and applied without yielding.
    async write(batch, context) {
      const clock = now();
      const atMs = clock.getTime();
      const at = clock.toISOString();
      const currents = check(batch, context, atMs);
      // Nothing below throws: the batch is applied whole.
      if (context.lease) data.leases.set(batch.entity, { owner: context.lease.owner, expiresAt: atMs + context.lease.ttlMs });
      const t = table(data, batch.entity);
      const writes = batch.records ?? [];
      for (let i = 0; i < writes.length; i++) {
        const w = writes[i] as RecordWrite;
        const current = currents[i];
        if (current) updateRecord(t, current, w, at);
        else createRecord(t, w, at);
      }
      for (const d of batch.deletes ?? []) removeRecord(t, t.records.get(d.id) as StoredRecord);
      if (batch.checkpoint !== undefined) {
        if (batch.checkpoint === null) data.checkpoints.delete(batch.entity);
        else data.checkpoints.set(batch.entity, batch.checkpoint);
      }
      if (batch.state) {
        for (const [key, value] of Object.entries(batch.state)) {
          if (value === null) data.state.delete(key);
          else data.state.set(key, value);
        }
      }
      for (const f of batch.fanOuts ?? []) fanOut(f, at);
      for (const a of batch.activities ?? []) appendActivity(a, at);
      for (const h of batch.history ?? []) appendHistory(h, at);
      for (const c of batch.collisions ?? []) data.collisions.push({ ...c, seq: ++data.seq, at });
      if (batch.resolveQuarantine && batch.resolveQuarantine.length > 0) resolveQuarantine(batch.entity, batch.resolveQuarantine, batch.resolveDirection, at);
      for (const q of batch.quarantine ?? []) quarantine({ ...q, seq: ++data.seq, at, resolvedAt: null });
    },

    async getCheckpoint(entity) {
      return data.checkpoints.get(entity) ?? null;
    },

    async getState(key) {
      return data.state.get(key) ?? null;
    },

    async listState(prefix) {
      return Object.fromEntries([...data.state].filter(([key]) => key.startsWith(prefix)));
    },

    async getRecords(entity, ids) {
      const t = data.tables.get(entity);
      const out: LocalRecord[] = [];
      if (!t) return out;
      for (const id of ids) {
        const r = t.records.get(id);
        if (r) out.push(copyOut(entity, r));
      }
      return out;
    },

    async getRecordsByCrmId(entity, crmIds) {
      const t = data.tables.get(entity);
      const out: LocalRecord[] = [];
      if (!t) return out;
      for (const crmId of crmIds) {
        const r = byCrmId(t, crmId);
        if (r) out.push(copyOut(entity, r));
      }
      return out;
    },

    async listRecords(entity, options) {
      const t = data.tables.get(entity);
      if (!t) return { items: [], next: null };
      const where = Object.entries(options.where ?? {});
      return pageOfIds(
        sortedView(t.sortedIds),
        options,
        (id) => {
          const r = t.records.get(id);
          return r && where.every(([f, v]) => sameValue(r.fields[f], v)) ? copyOut(entity, r) : undefined;
        },
        (r) => r.id,
      );
    },

    async listOutbox(entity, options) {
      const t = data.tables.get(entity);
      if (!t) return { items: [], next: null };
      return pageOfIds(
        sortedView(t.sortedOutbox, t.outbox),
        options,
        (id) => {
          const r = t.outbox.has(id) ? t.records.get(id) : undefined;
          return r ? copyOut(entity, r) : undefined;
        },
        (r) => r.id,
      );
    },

    async listUnseen(entity, snapshotId, options) {
      const t = data.tables.get(entity);
      if (!t) return { items: [], next: null };
      return pageOfIds(
        sortedView(t.sortedIds),
        options,
        (id) => {
          const r = t.records.get(id);
          return r && r.crmId !== null && !r.crmDeleted && r.seenIn !== snapshotId ? copyOut(entity, r) : undefined;
        },
        (r) => r.id,
      );
    },

    async countByAccount(entity, accountIds) {
      const counts = new Map<string, number>();
      const t = data.tables.get(entity);
      if (!t) return counts;
      for (const id of accountIds) {
        const size = t.byAccount.get(id)?.count ?? 0;
        if (size > 0) counts.set(id, size);
      }
      return counts;
    },

    async listActivities(options) {
      const { entity, recordId } = options;
      if (entity !== undefined && recordId !== undefined) return pageOfLog(activitiesOf(entity, recordId), options, () => true);
      return pageOfLog(
        data.activities,
        options,
        (a) => (entity === undefined || a.entity === entity) && (recordId === undefined || a.recordId === recordId),
      );
    },

    async listCollisions(options) {
      return pageOfLog(data.collisions, options, (c) => options.entity === undefined || c.entity === options.entity);
    },

    async listQuarantine(options) {
      return pageOfLog(
        data.quarantine,
        options,
        (q) => (options.entity === undefined || q.entity === options.entity) && (options.includeResolved || q.resolvedAt === null),
      );
    },

    async stats(entity) {
      const t = data.tables.get(entity);
      return {
        records: t?.records.size ?? 0,
        pending: t?.outbox.size ?? 0,
        crmDeleted: t?.crmDeleted ?? 0,
        quarantined: data.openQuarantine.get(entity)?.count ?? 0,
      };
    },

    async listFieldHistory(query) {
      const { entity, recordId, field } = query;
      const own = data.historyByRecord.get(`${recordKey(entity, recordId)}\u0000${field}`) ?? [];
      const r = data.tables.get(entity)?.records.get(recordId);
      const since = data.lastLink.get(recordKey(entity, recordId)) ?? 0;
      const account = r?.accountId ? (data.historyByAccount.get(`${recordKey(entity, r.accountId)}\u0000${field}`) ?? []) : [];
      const joined = account.filter((e) => e.seq > since && e.at >= (r as StoredRecord).createdAt);
      const all = joined.length === 0 ? own : [...own, ...joined].sort((a, b) => a.seq - b.seq);
      const page = pageOfLog(all, query, () => true);
      return { ...page, items: page.items.map((e) => ({ ...e, collision: e.collision ? { ...e.collision } : null })), recordCreatedAt: r?.createdAt ?? null };
    },

    async pruneFieldHistory(before) {
      const kept = data.history.filter((e) => e.at >= before);
      const removed = data.history.length - kept.length;
      if (removed === 0) return 0;
      data.history = kept;
      data.historyByRecord.clear();
      data.historyByAccount.clear();
      data.lastLink.clear();
      for (const e of kept) indexHistory(e);
      return removed;
    },

    async acquireLease(entity, lease) {
      const held = data.leases.get(entity);
      const at = now().getTime();
      if (held && held.owner !== lease.owner && held.expiresAt > at) return false; // held while its expiry lies ahead
      data.leases.set(entity, { owner: lease.owner, expiresAt: at + lease.ttlMs });
      return true;
    },

    async releaseLease(entity, owner) {
      if (data.leases.get(entity)?.owner === owner) data.leases.delete(entity);
    },

    async leaseOwners() {
      const at = now().getTime();
      return [...new Set([...data.leases.values()].filter((l) => l.expiresAt > at).map((l) => l.owner))].sort();
    },

  });
}
