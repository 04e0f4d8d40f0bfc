/**
 * The local side of crm-sync: what a store (memory, PostgreSQL, ...) must do.
 *
 * Stores persist; they do not decide. The engine reads local state, applies the rules, and hands
 * the store one `StoreBatch` per unit of progress (a page, a local edit, a push result), which the
 * store writes atomically: all of it or none of it. Every store passes `@crm-sync/store-testkit`.
 *
 * Two layers: `SyncStore` is what the engine uses; `StoreDriver` (at the end of this file) is what a
 * store author writes: storage primitives only. `defineStore(driver)` turns one into the other and
 * does, once for every store, what is not storage: batch validation (STORE_BATCH_INVALID), error
 * wrapping (STORE_UNAVAILABLE), closed stores, the LEASE_LOST and STORE_CONFLICT errors, and the
 * order of chained commits (`CommitOptions.after`).
 */
import type { FieldMap, FieldValue } from '../values.js';

/** What a store can do; reported, never assumed. */
export interface StoreCapabilities {
  /** Data survives a restart of the process. */
  persistent: boolean;
  /** Several processes may use the store at once (e.g. runners sharing one database). */
  sharedAcrossProcesses: boolean;
  /** `acquireLease`/`releaseLease` exist and batches with a `lease` are fenced. */
  leases: boolean;
}

/** A record of the marketing database. */
export interface LocalRecord {
  entity: string;
  /** Local key; for records that came from the CRM it equals `crmId`. */
  id: string;
  /** CRM primary key; null for a local person not (yet) in the CRM (R14). */
  crmId: string | null;
  /** CRM version last seen or written; null when unknown. */
  crmVersion: string | null;
  /** Store-managed counter, +1 on every write of the record; the optimistic lock of `commit`. */
  revision: number;
  /** Current local values: synced fields and local-only fields. */
  fields: FieldMap;
  /** Last values both sides agreed on: the base of the per-field three-way merge (R2). */
  base: FieldMap;
  /** Fields changed locally and not yet in the CRM: the outbox (R2, R14). */
  pending: string[];
  /** The account this record belongs to (contact.parentcustomerid pointing to an account, R15). */
  accountId: string | null;
  /** The account's fields as seen on this record; kept equal to the account by fan-out (R4). */
  company: FieldMap;
  /** R12: deleted in the CRM; kept locally and flagged. */
  crmDeleted: boolean;
  /** R14: a local person marked for sync to the CRM. */
  syncToCrm: boolean;
  /** Id of the last CRM snapshot (full read) that contained the record; for delete reconciliation. */
  seenIn: string | null;
  /** Time of the last write (ISO-8601), set by the store. */
  updatedAt: string;
}

/** A record named by its entity and CRM id. */
export interface RecordRef {
  entity: string;
  crmId: string | null;
}

/** Changes to one record. Omitted members stay as they are; maps are merged key by key. */
export interface RecordWrite {
  id: string;
  /** The revision the change was computed from; 0 creates the record (it must not exist). */
  expectedRevision: number;
  crmId?: string | null;
  crmVersion?: string | null;
  fields?: FieldMap;
  base?: FieldMap;
  /** Replaces the whole pending list. */
  pending?: string[];
  accountId?: string | null;
  company?: FieldMap;
  /**
   * Instead of `company`: `company` becomes the `fields` of the stored record `companyFrom` names
   * (entity and CRM id, chosen by the engine), read as part of the commit, so it cannot lag behind
   * that record. No such record, or a null `crmId`: `{}`.
   */
  companyFrom?: RecordRef;
  crmDeleted?: boolean;
  syncToCrm?: boolean;
  seenIn?: string | null;
}

export type ActivityType =
  | 'change-data-value'
  | 'new-person'
  | 'crm-deleted'
  | 'local-deleted'
  | 'crm-created'
  | 'sync-failed'
  | 'collision'
  | 'quick-sync'
  /** The CRM's columns or the synced fields changed (R9): new, removed or no longer readable columns. */
  | 'schema-drift'
  /** A quarantine entry retried on demand, with its outcome in `detail` (applied, or why it is still open). */
  | 'replay';

/** An entry of a record's activity log (Marketo's Activity Log). */
export interface ActivityInput {
  entity: string;
  /** The record's local id; `*` for an entry about the whole entity (a Quick Sync summary). */
  recordId: string;
  type: ActivityType;
  /** Where the change came from: the CRM, a local edit, or the sync itself. */
  source: 'crm' | 'local' | 'sync';
  field?: string | null;
  oldValue?: FieldValue;
  newValue?: FieldValue;
  /** Free text: the reason of a failure, a summary of a Quick Sync. */
  detail?: string | null;
}
export interface Activity extends Required<ActivityInput> {
  /** Store-assigned, increasing in insertion order. */
  seq: number;
  at: string;
}

/** R2: the same field changed on both sides. */
export interface CollisionInput {
  entity: string;
  recordId: string;
  field: string;
  localValue: FieldValue;
  crmValue: FieldValue;
  winner: 'local' | 'crm';
}
export interface Collision extends CollisionInput {
  seq: number;
  at: string;
}

/** A record that could not be applied (pull) or pushed (push), with why. */
export interface QuarantineInput {
  entity: string;
  /** Local id when known, else the CRM id, else null (row without a readable key). */
  recordId: string | null;
  direction: 'pull' | 'push';
  reason: string;
  /** What was received or sent, for diagnosis (JSON-serialisable; never secrets). */
  payload: unknown;
}
export interface QuarantineEntry extends QuarantineInput {
  seq: number;
  at: string;
  /** Set when a later batch resolved it (the record applied or pushed fine). */
  resolvedAt: string | null;
}

/**
 * Field history: why a field holds its value. Which rule set a value, from which side, when.
 *
 * Cheap by design: a record's creation writes no history (a first load of 100,000 records writes
 * none); the value it was created with is the first entry, read from the record (the `oldValue` of
 * its first history entry, or its current value when it has none) and the store's creation time.
 * Later changes write one entry per field changed, in the batch that changes it. An account fan-out
 * writes one entry per account and company key (`FanOut.history`), never one per record: the history
 * of a record's company field joins the entries of the account it is linked to.
 */
export type FieldHistoryRule =
  /** Local person created through the API (its fields' first values). */
  | 'create'
  /** A CRM change applied by a pull (R2, no collision). */
  | 'pull'
  /** The local value sent to the CRM and accepted: the value is unchanged, the CRM now holds it too. */
  | 'push'
  /** Both sides changed the field (R2): `collision` holds both values and the winner; `value` is the winner's. */
  | 'collision'
  /** An account change set on every record of the account (R4): one entry per account, not per record. */
  | 'fan-out'
  /** R10 backfill of a field added to the selection. */
  | 'quick-sync'
  /** A local edit through the API. */
  | 'local-edit'
  /** The record was linked to another account (or none): its company fields now mirror that account. */
  | 'account-link'
  /** R11: the CRM set the sync filter field to false; the flag is kept locally. */
  | 'sync-filter';

/** One step of a field's history, written with the batch that makes it. */
export interface FieldHistoryInput {
  entity: string;
  /** The record's local id. */
  recordId: string;
  /** The field as the record holds it: `name`, or `company.name` for an account field on a contact. */
  field: string;
  rule: FieldHistoryRule;
  /** Where the value came from. */
  side: 'crm' | 'local';
  /** The value before this step (null: none). */
  oldValue?: FieldValue;
  /** The value the field holds locally after this step. */
  value: FieldValue;
  /** `collision` only: both values and the side that won. */
  collision?: FieldCollisionDetail | null;
  /** Free text: which account, why. */
  detail?: string | null;
}

/** Both values of a collision and its winner (R2). */
export interface FieldCollisionDetail {
  localValue: FieldValue;
  crmValue: FieldValue;
  winner: 'local' | 'crm';
}

/** A stored history entry: a record's own (`recordId`), or an account fan-out's (`accountId`, recordId null). */
export interface FieldHistoryEntry {
  seq: number;
  at: string;
  entity: string;
  recordId: string | null;
  accountId: string | null;
  field: string;
  rule: FieldHistoryRule;
  side: 'crm' | 'local';
  oldValue: FieldValue;
  value: FieldValue;
  collision: FieldCollisionDetail | null;
  detail: string | null;
}

/** What `listFieldHistory` reads: one field of one record. */
export interface FieldHistoryQuery extends PageOptions {
  entity: string;
  recordId: string;
  field: string;
}

export interface FieldHistoryPage extends Page<FieldHistoryEntry> {
  /** When the store created the record (ISO); null when unknown (no such record, or created before history was kept). */
  recordCreatedAt: string | null;
}

/** The history of a fan-out: one entry per watched company key, joined to every record of the account when read. */
export interface FanOutHistory {
  /** The company keys whose value changes, each with the `field` its entry names (e.g. `name`: `company.name`). */
  fields: Record<string, string>;
  side: 'crm' | 'local';
  /** The account's values before the change (what its records held, kept equal by fan-out), by key. */
  oldValues: FieldMap;
  detail: string | null;
}

/**
 * Set-wise, on every record of `entity` whose `accountId` is `accountId` (none: nothing): merge
 * `company` into its company map and bump its revision; with `log`, first append one activity per
 * record and key of `log.fields` whose company value changes (old and new value of that key). The
 * engine decides the records, values and activities (R4, R7); the store executes, whatever the
 * number of records, without a step per record the caller can see.
 */
export interface FanOut {
  entity: string;
  accountId: string;
  company: FieldMap;
  log?: FanOutLog;
  /** One field history entry per key (set-wise: stored once for the account, not per record). */
  history?: FanOutHistory;
}

/** The activities of a fan-out: one per record and watched key whose value changes. */
export interface FanOutLog {
  /** The company keys watched, each with the `field` its activity names (e.g. `name`: `company.name`). */
  fields: Record<string, string>;
  type: ActivityType;
  source: ActivityInput['source'];
  detail: string | null;
}

/**
 * A runner's exclusive right to sync one entity (several runners on one store). A batch that carries
 * a lease is written only while that lease is held, and extends it; otherwise it fails LEASE_LOST.
 */
export interface Lease {
  /** The runner holding it. */
  owner: string;
  /**
   * How long the lease lasts from now (acquire) or from this commit (renewal). It is held while its
   * expiry lies ahead and may be taken by anyone once the store's clock reaches it.
   */
  ttlMs: number;
}

/** A record removed from the store: a local delete (R12: never deleted in the CRM). */
export interface RecordDelete {
  id: string;
  /** The revision the delete was decided on; any other (or no such record) is a STORE_CONFLICT. */
  expectedRevision: number;
}

/** One atomic unit of progress. Every write concerns `entity` except fan-out and activity rows. */
export interface StoreBatch {
  entity: string;
  /** Fencing: write only while `lease.owner` holds the entity's lease (stores with leases). */
  lease?: Lease;
  records?: RecordWrite[];
  /**
   * Records of `entity` removed from every read (by id, by CRM id, lists, outbox, account counts,
   * stats). Their activities, collisions and quarantine entries stay (`resolveQuarantine` closes
   * the open ones); a later create (revision 0) of the same id makes a new record. An id may not be
   * in both `records` and `deletes`.
   */
  deletes?: RecordDelete[];
  /** New checkpoint of `entity`, committed with the records (undefined leaves it). */
  checkpoint?: string | null;
  /** Engine state under keys of its choosing (field selections, backfill progress); null deletes. */
  state?: Record<string, string | null>;
  activities?: ActivityInput[];
  collisions?: CollisionInput[];
  quarantine?: QuarantineInput[];
  /** Record ids whose open quarantine entries are resolved by this batch (not the entries `quarantine` adds). */
  resolveQuarantine?: string[];
  /** Only entries of this direction are resolved (a row that reads fine says nothing of a refused push); default both. */
  resolveDirection?: 'pull' | 'push';
  /** At most one per entity and account id. */
  fanOuts?: FanOut[];
  /** Field history entries (stores without `listFieldHistory` drop them; see FieldHistoryRule). */
  history?: FieldHistoryInput[];
}

export interface CommitOptions {
  /**
   * A commit this one follows (the previous page of the same entity). The store may do the work of
   * this batch while `after` is pending, but none of it becomes visible before `after` resolves; if
   * `after` rejects, nothing of this batch is written and commit rejects with its error. The caller
   * keeps the two batches apart: they must not write the same records (a store may hold this
   * batch's records locked while it waits). A wrapper around a store (metrics, logging) must pass
   * the options on: a batch committed without its `after` may land before the one it follows.
   */
  after?: Promise<unknown>;
}

export interface PageOptions {
  limit: number;
  /** Exclusive cursor: the last `id` (records) or `seq` (logs) of the previous page. */
  after?: string | number;
}
export interface Page<T> {
  items: T[];
  /** Cursor for the next page, or null at the end. */
  next: string | number | null;
}

export interface StoreStats {
  records: number;
  pending: number;
  crmDeleted: number;
  quarantined: number;
}

export interface SyncStore {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  /** Writes the batch atomically. STORE_CONFLICT (nothing written) when a revision does not match. */
  commit(batch: StoreBatch, options?: CommitOptions): Promise<void>;
  /** Checkpoint of an entity, null when never set. */
  getCheckpoint(entity: string): Promise<string | null>;
  /** Engine state by key, null when never set. */
  getState(key: string): Promise<string | null>;
  /** Records by local id; missing ids are absent from the result (no error). */
  getRecords(entity: string, ids: readonly string[]): Promise<LocalRecord[]>;
  /** Records by CRM id; missing ids are absent from the result. */
  getRecordsByCrmId(entity: string, crmIds: readonly string[]): Promise<LocalRecord[]>;
  /** Records ordered by id; `where` matches exact field values. */
  listRecords(entity: string, options: PageOptions & { where?: FieldMap }): Promise<Page<LocalRecord>>;
  /** The outbox: records with pending fields, or marked for sync without a CRM id; ordered by id. */
  listOutbox(entity: string, options: PageOptions): Promise<Page<LocalRecord>>;
  /** Records with a CRM id, not CRM-deleted, whose `seenIn` differs from `snapshotId`; by id. */
  listUnseen(entity: string, snapshotId: string, options: PageOptions): Promise<Page<LocalRecord>>;
  /** Number of records of `entity` per account id (ids without records are absent). */
  countByAccount(entity: string, accountIds: readonly string[]): Promise<Map<string, number>>;
  /** Activity log, oldest first; filtered by entity and record when given. */
  listActivities(options: PageOptions & { entity?: string; recordId?: string }): Promise<Page<Activity>>;
  listCollisions(options: PageOptions & { entity?: string }): Promise<Page<Collision>>;
  /** Quarantine entries, oldest first; open ones only unless `includeResolved`. */
  listQuarantine(
    options: PageOptions & { entity?: string; includeResolved?: boolean },
  ): Promise<Page<QuarantineEntry>>;
  stats(entity: string): Promise<StoreStats>;
  /**
   * Optional (field history): the entries of one field of one record, oldest first (by seq): the
   * record's own entries, and the fan-out entries of the account the record is linked to now,
   * written at or after the record's creation and after its last `account-link` entry. Entries
   * outlive a local delete of their record. A store has both history members or neither; without
   * them the wrapper drops `history` and `FanOut.history` from batches.
   */
  listFieldHistory?(query: FieldHistoryQuery): Promise<FieldHistoryPage>;
  /** Optional (field history): removes the entries written before `before` (ISO); returns how many (retention). */
  pruneFieldHistory?(before: string): Promise<number>;
  /**
   * Takes or renews the entity's lease for `owner`: true when `owner` holds it afterwards (it was
   * free, expired, or already its own), false when another owner holds an unexpired lease.
   */
  acquireLease?(entity: string, lease: Lease): Promise<boolean>;
  /** Gives the lease up if `owner` holds it (graceful stop), so another runner takes over at once. */
  releaseLease?(entity: string, owner: string): Promise<void>;
  /**
   * Optional (stores with leases): the distinct owners of the leases not expired by the store's clock,
   * sorted. The engine counts the runners that share one CRM org by it (they split its recommended
   * parallelism). Without it, a runner takes itself for the only one.
   */
  leaseOwners?(): Promise<string[]>;
  /**
   * Optional: the engine state whose key starts with `prefix` (a plain prefix, no wildcards), as
   * `getState` would return each. The engine sums request counts that each runner keeps under keys
   * of its own by it (several runners never write one key). Without it, a runner counts only its own.
   */
  listState?(prefix: string): Promise<Record<string, string>>;
  /** Releases connections; the store is unusable afterwards. */
  close(): Promise<void>;
}

/**
 * What a store author implements: storage primitives; `defineStore(driver)` (`@crm-sync/core`) makes
 * the `SyncStore`. The reads are `SyncStore`'s, with the same meaning; the driver never sees a closed
 * store (the wrapper answers for it) and may throw anything (wrapped as STORE_UNAVAILABLE).
 */
export interface StoreDriver extends Omit<SyncStore, 'commit' | 'close' | 'acquireLease' | 'releaseLease' | 'leaseOwners'> {
  /**
   * Writes a batch the wrapper has validated (shape, duplicate ids, fan-outs once per account),
   * atomically: all of it or none of it. The driver checks what needs stored state, in the same
   * atomic unit as the write: revisions (`context.conflict(ids)`), and with `context.lease` the lease
   * (renewed for its `ttlMs` when held, else `context.leaseLost()`).
   */
  write(batch: StoreBatch, context: WriteContext): Promise<void>;
  /**
   * True when `write` may start before the commit it follows has been written (it then awaits
   * `context.turn` before anything of it becomes visible); false or absent: the wrapper awaits it.
   */
  writesAhead?: boolean;
  /** Takes or renews a lease (see `SyncStore.acquireLease`); needed when `capabilities.leases`. */
  acquireLease?(entity: string, lease: Lease): Promise<boolean>;
  releaseLease?(entity: string, owner: string): Promise<void>;
  /** See `SyncStore.leaseOwners`; offered only with `capabilities.leases`. */
  leaseOwners?(): Promise<string[]>;
  /** Releases connections; called once. */
  close?(): Promise<void>;
}

/** What `StoreDriver.write` gets besides the batch. */
export interface WriteContext {
  /**
   * With `writesAhead`, the commit this one follows (null: none): resolves once it is written, rejects
   * with its error (let it through). Without, null: the wrapper has awaited it.
   */
  turn: Promise<void> | null;
  /** The lease the batch is fenced by, or null. */
  lease: Lease | null;
  /** Throws LEASE_LOST: `lease` is not held (nothing may be written). */
  leaseLost(): never;
  /** Throws STORE_CONFLICT naming the records whose revision did not match (nothing may be written). */
  conflict(ids: readonly string[]): never;
}
