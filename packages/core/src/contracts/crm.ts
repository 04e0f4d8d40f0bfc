/**
 * The CRM side of crm-sync: what an adapter (Dynamics today, another CRM tomorrow) must do.
 *
 * The engine drives an adapter; the adapter knows HTTP and the CRM's dialect, and no rules.
 * Everything is expressed in the entity registry's terms (logical names, field maps).
 */
import type { EntityDefinition } from '../entities.js';
import type { FieldMap } from '../values.js';

/** What an adapter can do; the engine adapts to it (never to the adapter's name). */
export interface CrmCapabilities {
  /**
   * The adapter can resume from the checkpoint of a completed read with the changes since (change
   * tracking or a watermark). When false, the engine drops the checkpoint once a full read completes:
   * each cycle reads the table in full, and deletes are found by reconciliation (R12).
   */
  incrementalPull: boolean;
  /**
   * Writes may be grouped into one round trip (e.g. OData `$batch`): the engine hands up to 100 per
   * call. When false it hands one at a time, and a stop is honoured between two writes.
   */
  batchWrites: boolean;
  /**
   * Optional, with `batchWrites`: writes the engine hands per call instead of 100 (at most the
   * outbox page of 500), for an adapter that sends larger groups well (e.g. Dataverse's bulk messages).
   */
  writesPerCall?: number;
  /**
   * `createRecords` honours the caller's id, so a retried create is detected (`exists`) instead of
   * duplicated (R14). When false, the CRM's id comes back in the result, and a create whose call
   * throws (outcome unknown) is quarantined for a person instead of being sent again.
   */
  createWithClientId: boolean;
}

/**
 * What a column holds, in core's terms: the adapter maps its CRM's types to these, and the rules
 * read only these (never the CRM's own type names).
 * `text`: a string; `integer`: a whole number; `number`: any number (decimals, money); `boolean`;
 * `datetime`: an ISO-8601 date or date and time; `choice`: an option value (a whole number);
 * `lookup`: the id of another record (pulled, never pushed); `id`: a record id of its own;
 * `other`: anything else (not checked).
 */
export type FieldValueKind = 'text' | 'integer' | 'number' | 'boolean' | 'datetime' | 'choice' | 'lookup' | 'id' | 'other';

/** A column as the sync user sees it (R6). */
export interface CrmField {
  /** Attribute logical name (lookups by their attribute name, e.g. `parentcustomerid`). */
  name: string;
  /** The record's own key column (e.g. Dataverse `contactid`): every record carries it as its CRM id, never as a field. */
  primaryKey?: boolean;
  /** The CRM's own type name, for people (e.g. Dataverse `String`, `Customer`, `Money`); rules read `valueKind`. */
  type: string;
  /** What the column holds, in core's terms. */
  valueKind: FieldValueKind;
  /**
   * The CRM maintains it on every write (bookkeeping: created/modified stamps and users, row
   * versions): left out of an "all" selection, since it would change on every write (R6).
   */
  systemMaintained?: boolean;
  /** For lookups: logical names of possible targets. */
  lookupTargets?: readonly string[];
  custom: boolean;
  /** The sync user can read values (valid for read and, if secured, read privilege). */
  canRead: boolean;
  /** The sync user can write values (valid for update and, if secured, update privilege). */
  canUpdate: boolean;
  secured: boolean;
  /** Why the field cannot be read or updated, in words, when it cannot. */
  reason?: string;
  /** Strings and memos: the most characters the CRM accepts (omitted when the adapter does not know). */
  maxLength?: number;
  /** The CRM requires a value (Dataverse RequiredLevel SystemRequired or ApplicationRequired): it may not be cleared. */
  required?: boolean;
  /** Option sets (e.g. `Picklist`): the values the CRM accepts (omitted when the adapter does not know). */
  options?: readonly number[];
}

/** One entity's metadata as seen through the sync user's privileges. */
export interface CrmEntitySchema {
  entity: string;
  fields: readonly CrmField[];
  /** True when the CRM tracks changes for the table (deletes come with the delta). */
  changeTracking: boolean;
}

/**
 * One change to a CRM column definition since the adapter last looked (R9): `added`, `removed`,
 * `type-changed` (`previousType` → `type`: values of the old type must not be mixed with the new
 * ones) or `security-changed` (`secured` now).
 */
export interface CrmSchemaChange {
  entity: string;
  field: string;
  kind: 'added' | 'removed' | 'type-changed' | 'security-changed';
  /** The CRM's type name now (not for `removed`). */
  type?: string;
  /** `type-changed`: the type before. */
  previousType?: string;
  /** Whether the column is secured by field security now (not for `removed`). */
  secured?: boolean;
}

/** A lookup value with the entity it points to (polymorphic lookups need the target). */
export interface LookupValue {
  id: string;
  entity: string;
}

/** A row as pulled from the CRM. */
export interface CrmRecord {
  /** Primary key (GUID). */
  id: string;
  /**
   * Concurrency token of this row version (the ETag's value); changes on every write. A write's
   * result carries the same token the next pull reports for the row: core recognises its own echo by it (R13).
   */
  version: string;
  /** Values of the requested fields; lookups hold the target GUID. Hidden or empty values are null. */
  fields: FieldMap;
  /** Targets of lookup fields present in `fields`. */
  lookups: Record<string, LookupValue | null>;
  /** R13: the last change was made by the sync user itself (an echo candidate). */
  bySyncUser: boolean;
  /** Last modification time (ISO-8601), when the CRM reports it. */
  modifiedOn: string | null;
}

/** A row the adapter received but could not read (wrong type, missing key); core quarantines it. */
export interface RejectedRow {
  id: string | null;
  reason: string;
  raw: unknown;
}

/**
 * One page of changes. Its `checkpoint` is where the next pull resumes once this page is committed:
 * the engine stores it in the same transaction as the page's records.
 */
export interface ChangePage {
  /** New or changed rows (inserts and updates are not distinguished). */
  upserts: CrmRecord[];
  /** Ids of rows deleted in the CRM. */
  deletes: string[];
  rejected: RejectedRow[];
  /** Opaque resume point after this page. */
  checkpoint: string;
  /**
   * Set when this page belongs to a full read of the table (initial sync, or resync after an expired
   * token). Records never seen in a completed snapshot were deleted in the CRM (id reconciliation),
   * so a read resumed from a page's checkpoint keeps its snapshot id (or starts a new snapshot that
   * reads every row again). `complete` is true on the last page only; an empty table is one page.
   */
  snapshot: { id: string; complete: boolean } | null;
}

export interface PullRequest {
  /**
   * Where to resume; null starts with a full read. An unusable checkpoint (expired, unreadable,
   * unknown format) restarts with a snapshot: never an error, never a read that skips changes.
   */
  checkpoint: string | null;
  /** Fields to read (the primary key is always read); the engine asks only for fields `describeEntity` says are readable. */
  fields: readonly string[];
  /** Stops the read, retries included: the pending or next page rejects with ABORTED. */
  signal?: AbortSignal;
}

/** An update of existing CRM rows, sent only with fields the sync user can update (R6). */
export interface CrmUpdate {
  id: string;
  /**
   * Version the change was based on; a different current version is reported as a collision. Null
   * writes whatever the current version; either way a row that does not exist is `not-found`, never created.
   */
  ifVersion: string | null;
  fields: FieldMap;
}

/** A create; `id` is chosen by the caller so a retry cannot create a second row (R14). */
export interface CrmCreate {
  id: string;
  fields: FieldMap;
}

/** Outcome of one write. Transport failures after the retry budget throw instead. */
export type CrmWriteResult =
  /** `id`: the row's CRM id (for a create without `createWithClientId`, the one the CRM gave it). */
  | { id: string; ok: true; version: string; created: boolean }
  | {
      id: string;
      ok: false;
      /**
       * collision: the row changed since `ifVersion` (HTTP 412); rejected: the CRM refused the values
       * (validation, privilege); not-found: the row is gone; exists: a create found the id taken.
       */
      kind: 'collision' | 'rejected' | 'not-found' | 'exists';
      message: string;
      status?: number;
      /**
       * Rejected updates only: the fields refused, when the refusal is about them alone (e.g. the sync
       * user lost the right to update them). Nothing was written; the row's other fields may be sent again.
       */
      fields?: string[];
    };

export interface CrmAdapter {
  /** Short name for logs and errors, e.g. `dynamics`. */
  readonly name: string;
  readonly capabilities: CrmCapabilities;
  /** The identity the adapter acts as (the sync user) and the organization. */
  whoAmI(): Promise<{ userId: string; organizationId: string | null }>;
  /**
   * Metadata and field access of an entity; the engine calls it at the start of each cycle. An
   * adapter may answer from a cache, except with `fresh` (a schema refresh a person asked for, R9);
   * but a pull after the call that finds a column it may no longer read (field access changed since
   * the cache) throws CRM_SCHEMA_CHANGED before handing out rows, and the engine plans the entity
   * again: a hidden value is never handed out as null in place of a readable one. `signal` stops
   * it, retries included (a graceful stop): the call rejects with ABORTED.
   */
  describeEntity(entity: EntityDefinition, options?: { fresh?: boolean; signal?: AbortSignal }): Promise<CrmEntitySchema>;
  /**
   * Optional: the column definitions of these entities changed since the previous call, with one
   * cheap request for all of them (Dataverse: RetrieveMetadataChanges with a version stamp). The
   * first call only sets the baseline and answers `[]`, as does a call whose entity list differs
   * from the last one. After a change, `describeEntity` of that entity answers from a fresh read.
   * The engine calls it once per cycle before describing the entities; without it, drift is found
   * by comparing `describeEntity` answers (on the adapter's own cache schedule).
   */
  schemaChanges?(entities: readonly EntityDefinition[], options?: { signal?: AbortSignal }): Promise<CrmSchemaChange[]>;
  /** Changes since a checkpoint, page by page; never holds the whole table. */
  pullChanges(entity: EntityDefinition, request: PullRequest): AsyncIterable<ChangePage>;
  /**
   * Current values of `fields` for every row, in pages, without touching any checkpoint (Quick Sync,
   * R10). An aborted `signal` rejects with ABORTED.
   */
  readAll(
    entity: EntityDefinition,
    request: { fields: readonly string[]; signal?: AbortSignal },
  ): AsyncIterable<{ rows: CrmRecord[]; rejected: RejectedRow[] }>;
  /**
   * Optional: the current values of these rows (to retry rows quarantined by a pull). Rows that no
   * longer exist or are hidden from the sync user are listed in `missing`.
   */
  readRecords?(
    entity: EntityDefinition,
    request: { ids: readonly string[]; fields: readonly string[]; signal?: AbortSignal },
  ): Promise<{ rows: CrmRecord[]; rejected: RejectedRow[]; missing: string[] }>;
  /**
   * Updates rows, only the fields given; one result per input, in order, each row on its own. Throws
   * before sending anything of the call (nothing written) for a field the CRM does not have
   * (FIELD_NOT_IN_CRM, naming it: R8). A field the sync user may not update (R6) writes nothing of
   * its row either: a `rejected` result naming it in `fields` (core sends the other fields again),
   * or FIELD_NOT_UPDATABLE thrown for the call.
   */
  updateRecords(entity: EntityDefinition, updates: readonly CrmUpdate[]): Promise<CrmWriteResult[]>;
  /**
   * Creates rows. Refuses entities that sync one way with CRM_CREATE_REFUSED before sending anything
   * (R5), and fields the CRM does not have with FIELD_NOT_IN_CRM (R8), nothing of the call created.
   */
  createRecords(entity: EntityDefinition, creates: readonly CrmCreate[]): Promise<CrmWriteResult[]>;
  /**
   * Optional: this runner is one of `runners` (at least 1) that sync the same CRM org right now (the
   * engine counts them by their leases before each cycle's pulls). The adapter then sends at most its
   * share of the parallelism the CRM recommends (Dataverse: `x-ms-dop-hint` / `runners`, at least 1),
   * so that together the runners stay within it.
   */
  shareParallelism?(runners: number): void;
  /** Releases connections and timers. */
  close?(): Promise<void>;
}
