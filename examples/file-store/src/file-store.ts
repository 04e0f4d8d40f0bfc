import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Activity, Collision, LocalRecord, Page, PageOptions, QuarantineEntry, StoreBatch, SyncStore } from '@crm-sync/core';
import { defineStore, sameValue, SyncError } from '@crm-sync/core';

/** Everything the store holds. The file is this as JSON, rewritten whole after each commit. */
interface Data {
  /** Records by entity, then by id. */
  tables: Map<string, Map<string, LocalRecord>>;
  checkpoints: Map<string, string>;
  state: Map<string, string>;
  activities: Activity[];
  collisions: Collision[];
  quarantine: QuarantineEntry[];
  /** The last sequence number handed out (activities, collisions, quarantine). */
  seq: number;
}

/** The file's first members say what it is, so a stranger's JSON is refused, not overwritten. */
const FORMAT = 'crm-sync-file-store';
const VERSION = 1;

export interface FileStoreOptions {
  /** The JSON file (created by the first commit). */
  path: string;
}

/**
 * A store kept in memory and saved to one JSON file after each commit. A commit builds the next
 * state on a copy and keeps it only once the file holds it: all or nothing, in memory and on disk.
 * One process at a time (no leases).
 */
export async function openFileStore({ path }: FileStoreOptions): Promise<SyncStore> {
  let data = await load(path);
  // One write at a time, each on the state the previous one saved.
  let writing: Promise<void> = Promise.resolve();

  const table = (entity: string) => data.tables.get(entity) ?? new Map<string, LocalRecord>();
  const byId = (entity: string) => [...table(entity).values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const afterId = (id: string, options: PageOptions) => options.after === undefined || id > String(options.after);
  const afterSeq = (seq: number, options: PageOptions) => options.after === undefined || seq > Number(options.after);
  const inOutbox = (r: LocalRecord) => r.pending.length > 0 || (r.syncToCrm && r.crmId === null && !r.crmDeleted);

  return defineStore({
    name: 'file',
    capabilities: { persistent: true, sharedAcrossProcesses: false, leases: false },

    write(batch, context) {
      const done = writing.then(async () => {
        const stale = [
          ...(batch.records ?? []).filter((w) => (table(batch.entity).get(w.id)?.revision ?? 0) !== w.expectedRevision),
          ...(batch.deletes ?? []).filter((d) => table(batch.entity).get(d.id)?.revision !== d.expectedRevision),
        ];
        if (stale.length > 0) context.conflict(stale.map((w) => w.id));
        const next = structuredClone(data);
        apply(next, batch, new Date().toISOString());
        await save(path, next);
        data = next;
      });
      writing = done.catch(() => undefined);
      return done;
    },

    async getCheckpoint(entity) {
      return data.checkpoints.get(entity) ?? null;
    },
    async getState(key) {
      return data.state.get(key) ?? null;
    },
    async getRecords(entity, ids) {
      return structuredClone(ids.flatMap((id) => table(entity).get(id) ?? []));
    },
    async getRecordsByCrmId(entity, crmIds) {
      return structuredClone(crmIds.flatMap((crmId) => findByCrmId(data, entity, crmId) ?? []));
    },
    async listRecords(entity, options) {
      const where = Object.entries(options.where ?? {});
      return page(byId(entity).filter((r) => afterId(r.id, options) && where.every(([f, v]) => sameValue(r.fields[f], v))), options, (r) => r.id);
    },
    async listOutbox(entity, options) {
      return page(byId(entity).filter((r) => afterId(r.id, options) && inOutbox(r)), options, (r) => r.id);
    },
    async listUnseen(entity, snapshotId, options) {
      const unseen = (r: LocalRecord) => r.crmId !== null && !r.crmDeleted && r.seenIn !== snapshotId;
      return page(byId(entity).filter((r) => afterId(r.id, options) && unseen(r)), options, (r) => r.id);
    },
    async countByAccount(entity, accountIds) {
      const wanted = new Set(accountIds);
      const counts = new Map<string, number>();
      for (const r of table(entity).values()) {
        if (r.accountId !== null && wanted.has(r.accountId)) counts.set(r.accountId, (counts.get(r.accountId) ?? 0) + 1);
      }
      return counts;
    },
    async listActivities(options) {
      const { entity, recordId } = options;
      const match = (a: Activity) => (entity === undefined || a.entity === entity) && (recordId === undefined || a.recordId === recordId);
      return page(data.activities.filter((a) => afterSeq(a.seq, options) && match(a)), options, (a) => a.seq);
    },
    async listCollisions(options) {
      const match = (c: Collision) => options.entity === undefined || c.entity === options.entity;
      return page(data.collisions.filter((c) => afterSeq(c.seq, options) && match(c)), options, (c) => c.seq);
    },
    async listQuarantine(options) {
      const match = (q: QuarantineEntry) => (options.entity === undefined || q.entity === options.entity) && (options.includeResolved || q.resolvedAt === null);
      return page(data.quarantine.filter((q) => afterSeq(q.seq, options) && match(q)), options, (q) => q.seq);
    },
    async stats(entity) {
      const records = [...table(entity).values()];
      return {
        records: records.length,
        pending: records.filter(inOutbox).length,
        crmDeleted: records.filter((r) => r.crmDeleted).length,
        quarantined: data.quarantine.filter((q) => q.entity === entity && q.resolvedAt === null).length,
      };
    },

    async close() {
      await writing; // a save in progress finishes: the file is whole when close returns
    },
  });
}

/** The first `limit` items (copies: callers cannot change the store's objects) and the cursor after them. */
function page<T>(items: T[], options: PageOptions, key: (item: T) => string | number): Page<T> {
  if (items.length <= options.limit) return { items: structuredClone(items), next: null };
  const kept = items.slice(0, options.limit);
  return { items: structuredClone(kept), next: key(kept[kept.length - 1] as T) };
}

/** A record of the CRM has its CRM id as id; only local persons created in the CRM later need the scan. */
function findByCrmId(data: Data, entity: string, crmId: string): LocalRecord | undefined {
  const t = data.tables.get(entity);
  const direct = t?.get(crmId);
  if (direct?.crmId === crmId) return direct;
  return [...(t?.values() ?? [])].find((r) => r.crmId === crmId);
}

/** Applies a batch whose revisions were checked, in the order the contract gives. */
function apply(data: Data, batch: StoreBatch, at: string): void {
  let t = data.tables.get(batch.entity);
  if (!t) data.tables.set(batch.entity, (t = new Map()));
  for (const w of batch.records ?? []) {
    const r: LocalRecord = t.get(w.id) ?? {
      entity: batch.entity, id: w.id, crmId: null, crmVersion: null, revision: 0, fields: {}, base: {}, pending: [],
      accountId: null, company: {}, crmDeleted: false, syncToCrm: false, seenIn: null, updatedAt: at,
    };
    if (w.crmId !== undefined) r.crmId = w.crmId;
    if (w.crmVersion !== undefined) r.crmVersion = w.crmVersion;
    if (w.fields) r.fields = { ...r.fields, ...w.fields };
    if (w.base) r.base = { ...r.base, ...w.base };
    if (w.pending) r.pending = [...w.pending];
    if (w.accountId !== undefined) r.accountId = w.accountId;
    if (w.companyFrom) {
      const from = w.companyFrom.crmId === null ? undefined : findByCrmId(data, w.companyFrom.entity, w.companyFrom.crmId);
      r.company = { ...from?.fields };
    } else if (w.company) r.company = { ...r.company, ...w.company };
    if (w.crmDeleted !== undefined) r.crmDeleted = w.crmDeleted;
    if (w.syncToCrm !== undefined) r.syncToCrm = w.syncToCrm;
    if (w.seenIn !== undefined) r.seenIn = w.seenIn;
    r.revision += 1;
    r.updatedAt = at;
    t.set(r.id, r);
  }
  for (const d of batch.deletes ?? []) t.delete(d.id);
  if (batch.checkpoint === null) data.checkpoints.delete(batch.entity);
  else if (batch.checkpoint !== undefined) data.checkpoints.set(batch.entity, batch.checkpoint);
  for (const [key, value] of Object.entries(batch.state ?? {})) {
    if (value === null) data.state.delete(key);
    else data.state.set(key, value);
  }
  const log = (a: Omit<Activity, 'seq' | 'at'>) => data.activities.push({ ...a, seq: ++data.seq, at });
  for (const f of batch.fanOuts ?? []) {
    for (const r of data.tables.get(f.entity)?.values() ?? []) {
      if (r.accountId !== f.accountId) continue;
      for (const [key, field] of Object.entries(f.log?.fields ?? {})) {
        const oldValue = r.company[key] ?? null;
        const newValue = f.company[key] ?? null;
        if (f.log && !sameValue(oldValue, newValue)) {
          log({ entity: f.entity, recordId: r.id, type: f.log.type, source: f.log.source, field, oldValue, newValue, detail: f.log.detail });
        }
      }
      r.company = { ...r.company, ...f.company };
      r.revision += 1;
      r.updatedAt = at;
    }
  }
  for (const a of batch.activities ?? []) {
    log({ ...a, field: a.field ?? null, oldValue: a.oldValue ?? null, newValue: a.newValue ?? null, detail: a.detail ?? null });
  }
  for (const c of batch.collisions ?? []) data.collisions.push({ ...c, seq: ++data.seq, at });
  const resolved = new Set(batch.resolveQuarantine ?? []);
  for (const q of data.quarantine) {
    const direction = batch.resolveDirection === undefined || q.direction === batch.resolveDirection;
    if (q.entity === batch.entity && q.resolvedAt === null && q.recordId !== null && resolved.has(q.recordId) && direction) q.resolvedAt = at;
  }
  for (const q of batch.quarantine ?? []) data.quarantine.push({ ...structuredClone(q), seq: ++data.seq, at, resolvedAt: null });
}

/** The file as it is written: plain JSON (records in one list, maps as objects). */
interface FileJson {
  format: typeof FORMAT;
  version: typeof VERSION;
  seq: number;
  checkpoints: Record<string, string>;
  state: Record<string, string>;
  records: LocalRecord[];
  activities: Activity[];
  collisions: Collision[];
  quarantine: QuarantineEntry[];
}

/** Writes a temp file beside the data file, syncs it, and renames it over: a crash leaves the old file or the new one. */
async function save(path: string, data: Data): Promise<void> {
  const json: FileJson = {
    format: FORMAT, version: VERSION, seq: data.seq,
    checkpoints: Object.fromEntries(data.checkpoints), state: Object.fromEntries(data.state),
    records: [...data.tables.values()].flatMap((t) => [...t.values()]),
    activities: data.activities, collisions: data.collisions, quarantine: data.quarantine,
  };
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const file = await open(temp, 'w');
    try {
      await file.writeFile(JSON.stringify(json));
      await file.sync(); // on disk before the rename makes it the data file
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new Error(`cannot save ${path}: ${(error as Error).message}`, { cause: error });
  }
  // The rename is durable once the directory is synced.
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Reads the data file; none yet is an empty store. A file that is not ours, or is damaged, is refused and left as it is. */
async function load(path: string): Promise<Data> {
  const data: Data = { tables: new Map(), checkpoints: new Map(), state: new Map(), activities: [], collisions: [], quarantine: [], seq: 0 };
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return data;
    throw new SyncError('STORE_UNAVAILABLE', `[file] cannot read ${path}: ${(error as Error).message}`, { cause: error, details: { path } });
  }
  const refuse = (why: string): never => {
    throw new SyncError('STORE_UNAVAILABLE', `[file] ${path} ${why}; refusing to open it (the file is left as it is: restore it from a backup, or move it away to start empty)`, {
      details: { path },
    });
  };
  let json: Partial<FileJson>;
  try {
    json = JSON.parse(text) as Partial<FileJson>;
  } catch (error) {
    return refuse(`is not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || json.format !== FORMAT) return refuse(`is not a file store's data (no "format": "${FORMAT}")`);
  if (json.version !== VERSION) return refuse(`has version ${String(json.version)}; this store reads version ${VERSION}`);
  const lists = [json.records, json.activities, json.collisions, json.quarantine];
  const maps = [json.checkpoints, json.state];
  if (typeof json.seq !== 'number' || !lists.every(Array.isArray) || !maps.every((m) => typeof m === 'object' && m !== null)) {
    return refuse('is damaged (seq, records, activities, collisions, quarantine, checkpoints or state missing)');
  }
  for (const r of json.records as LocalRecord[]) {
    if (typeof r?.entity !== 'string' || typeof r.id !== 'string') return refuse('is damaged (a record without entity or id)');
    let t = data.tables.get(r.entity);
    if (!t) data.tables.set(r.entity, (t = new Map()));
    t.set(r.id, r);
  }
  data.checkpoints = new Map(Object.entries(json.checkpoints as Record<string, string>));
  data.state = new Map(Object.entries(json.state as Record<string, string>));
  data.activities = json.activities as Activity[];
  data.collisions = json.collisions as Collision[];
  data.quarantine = json.quarantine as QuarantineEntry[];
  data.seq = json.seq;
  return data;
}

