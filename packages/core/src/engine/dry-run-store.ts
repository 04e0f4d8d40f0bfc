import type {
  LocalRecord,
  Page,
  PageOptions,
  QuarantineEntry,
  RecordWrite,
  StoreBatch,
  SyncStore,
} from '../contracts/store.js';
import { defineStore } from '../store/define-store.js';
import { sameValue } from '../values.js';

/** What a batch would do to one record: created, or these fields' values changed. */
export interface RecordChange {
  id: string;
  created: boolean;
  fields: string[];
}

/**
 * A store for a dry run: reads answer from the real store as if the batches committed so far had
 * been written (a later page, the delete reconciliation and the push must see what the pages before
 * them would have stored), while nothing reaches the real store. Every commit is handed to `onCommit`
 * for the plan. Fan-outs are passed on but not applied: nothing later in a cycle reads a company map.
 */
export function dryRunStore(real: SyncStore, onCommit: (batch: StoreBatch, changes: RecordChange[]) => void): SyncStore {
  /** Records as the batches so far would have left them, by entity and id; null: removed. */
  const records = new Map<string, Map<string, LocalRecord | null>>();
  /** The real store's version of each record in `records` (null: it had none), for the counts. */
  const before = new Map<string, Map<string, LocalRecord | null>>();
  const state = new Map<string, string | null>();
  const checkpoints = new Map<string, string | null>();
  const quarantine: QuarantineEntry[] = [];
  const resolved = new Set<string>();
  const table = <T>(m: Map<string, Map<string, T>>, entity: string): Map<string, T> => {
    let t = m.get(entity);
    if (!t) m.set(entity, (t = new Map()));
    return t;
  };
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

  async function current(entity: string, id: string): Promise<LocalRecord | null> {
    const t = table(records, entity);
    if (t.has(id)) return t.get(id) ?? null;
    const [found] = await real.getRecords(entity, [id]);
    table(before, entity).set(id, found ?? null);
    return found ?? null;
  }

  async function companyOf(ref: NonNullable<RecordWrite['companyFrom']>): Promise<LocalRecord['company']> {
    if (ref.crmId === null) return {};
    const [found] = await driver.getRecordsByCrmId(ref.entity, [ref.crmId]);
    return found ? { ...found.fields } : {};
  }

  async function apply(entity: string, w: RecordWrite): Promise<RecordChange> {
    const was = await current(entity, w.id);
    const at = new Date().toISOString();
    const r: LocalRecord = was
      ? { ...was, revision: was.revision + 1, updatedAt: at }
      : {
        entity, id: w.id, crmId: null, crmVersion: null, revision: 1, fields: {}, base: {}, pending: [], accountId: null,
        company: {}, crmDeleted: false, syncToCrm: false, seenIn: null, updatedAt: at,
      };
    if (w.crmId !== undefined) r.crmId = w.crmId;
    if (w.crmVersion !== undefined) r.crmVersion = w.crmVersion;
    if (w.fields) r.fields = { ...r.fields, ...w.fields };
    if (w.base) r.base = { ...r.base, ...w.base };
    if (w.companyFrom) r.company = await companyOf(w.companyFrom);
    else if (w.company) r.company = { ...r.company, ...w.company };
    if (w.pending) r.pending = [...w.pending];
    if (w.accountId !== undefined) r.accountId = w.accountId;
    if (w.crmDeleted !== undefined) r.crmDeleted = w.crmDeleted;
    if (w.syncToCrm !== undefined) r.syncToCrm = w.syncToCrm;
    if (w.seenIn !== undefined) r.seenIn = w.seenIn;
    table(records, entity).set(w.id, r);
    const fields = Object.keys(w.fields ?? {}).filter((k) => !was || !sameValue(was.fields[k], w.fields?.[k]));
    return { id: w.id, created: !was, fields };
  }

  /**
   * A page of a list the store orders by id, with the records changed so far in place of the real
   * store's: real pages are read on (skipping changed records) until `limit` are found, then the
   * changed records that match and fall in the same range of ids are merged in.
   */
  async function merged(
    entity: string,
    options: PageOptions,
    list: (o: PageOptions) => Promise<Page<LocalRecord>>,
    matches: (r: LocalRecord) => boolean,
  ): Promise<Page<LocalRecord>> {
    const t = table(records, entity);
    const after = options.after === undefined ? null : String(options.after);
    const found: LocalRecord[] = [];
    let cursor: string | number | undefined = options.after;
    let end = false;
    while (found.length < options.limit && !end) {
      const page = await list({ limit: options.limit, ...(cursor !== undefined ? { after: cursor } : {}) });
      for (const r of page.items) if (!t.has(r.id)) found.push(r);
      end = page.next === null;
      if (page.next !== null) cursor = page.next;
    }
    const last = end ? null : found.at(-1)?.id ?? null;
    for (const r of t.values()) {
      if (r && matches(r) && (after === null || r.id > after) && (last === null || r.id <= last)) found.push(r);
    }
    found.sort(byId);
    const items = found.slice(0, options.limit);
    const more = found.length > options.limit || !end;
    return { items, next: more && items.length > 0 ? (items.at(-1) as LocalRecord).id : null };
  }

  const driver = {
    name: `${real.name} (dry run)`,
    // Leases are not taken: they would be a write.
    capabilities: { ...real.capabilities, leases: false },
    async write(batch: StoreBatch) {
      const changes: RecordChange[] = [];
      for (const w of batch.records ?? []) changes.push(await apply(batch.entity, w));
      for (const d of batch.deletes ?? []) {
        await current(batch.entity, d.id);
        table(records, batch.entity).set(d.id, null);
      }
      if (batch.checkpoint !== undefined) checkpoints.set(batch.entity, batch.checkpoint);
      for (const [k, v] of Object.entries(batch.state ?? {})) state.set(k, v);
      const at = new Date().toISOString();
      for (const q of batch.quarantine ?? []) quarantine.push({ ...q, seq: Number.MAX_SAFE_INTEGER, at, resolvedAt: null });
      for (const id of batch.resolveQuarantine ?? []) resolved.add(`${batch.entity}\u0000${batch.resolveDirection ?? '*'}\u0000${id}`);
      onCommit(batch, changes);
    },
    async getCheckpoint(entity: string) {
      return checkpoints.has(entity) ? (checkpoints.get(entity) ?? null) : real.getCheckpoint(entity);
    },
    async getState(key: string) {
      return state.has(key) ? (state.get(key) ?? null) : real.getState(key);
    },
    async getRecords(entity: string, ids: readonly string[]) {
      const t = table(records, entity);
      const fromReal = await real.getRecords(entity, ids.filter((id) => !t.has(id)));
      const mine = ids.map((id) => t.get(id)).filter((r): r is LocalRecord => !!r);
      return [...fromReal, ...mine];
    },
    async getRecordsByCrmId(entity: string, crmIds: readonly string[]) {
      const t = table(records, entity);
      const wanted = new Set(crmIds);
      const mine = [...t.values()].filter((r): r is LocalRecord => !!r && r.crmId !== null && wanted.has(r.crmId));
      const fromReal = (await real.getRecordsByCrmId(entity, crmIds)).filter((r) => !t.has(r.id));
      return [...fromReal, ...mine];
    },
    listRecords: (entity: string, options: PageOptions & { where?: LocalRecord['fields'] }) =>
      merged(entity, options, (o) => real.listRecords(entity, { ...o, ...(options.where ? { where: options.where } : {}) }), (r) =>
        Object.entries(options.where ?? {}).every(([k, v]) => r.fields[k] === v)),
    listOutbox: (entity: string, options: PageOptions) =>
      merged(entity, options, (o) => real.listOutbox(entity, o), (r) => r.pending.length > 0 || (r.syncToCrm && r.crmId === null && !r.crmDeleted)),
    listUnseen: (entity: string, snapshotId: string, options: PageOptions) =>
      merged(entity, options, (o) => real.listUnseen(entity, snapshotId, o), (r) => r.crmId !== null && !r.crmDeleted && r.seenIn !== snapshotId),
    async countByAccount(entity: string, accountIds: readonly string[]) {
      const counts = await real.countByAccount(entity, accountIds);
      const wanted = new Set(accountIds);
      const add = (id: string | null | undefined, n: number) => {
        if (id && wanted.has(id)) counts.set(id, (counts.get(id) ?? 0) + n);
      };
      for (const [id, r] of table(records, entity)) {
        add(table(before, entity).get(id)?.accountId, -1);
        add(r?.accountId, 1);
      }
      for (const [id, n] of counts) if (n <= 0) counts.delete(id);
      return counts;
    },
    listActivities: real.listActivities.bind(real),
    listCollisions: real.listCollisions.bind(real),
    async listQuarantine(options: Parameters<SyncStore['listQuarantine']>[0]) {
      const page = await real.listQuarantine(options);
      // Closed by a batch of this dry run: either direction ('*') or the entry's own.
      const open = (q: QuarantineEntry) =>
        q.recordId === null || !['*', q.direction].some((d) => resolved.has(`${q.entity}\u0000${d}\u0000${q.recordId}`));
      const items = page.items.filter((q) => options.includeResolved || open(q));
      if (page.next === null) items.push(...quarantine.filter((q) => (options.entity === undefined || q.entity === options.entity) && open(q)));
      return { items, next: page.next };
    },
    async stats(entity: string) {
      const s = await real.stats(entity);
      for (const [id, r] of table(records, entity)) s.records += (r ? 1 : 0) - (table(before, entity).get(id) ? 1 : 0);
      return s;
    },
  };
  return defineStore(driver);
}
