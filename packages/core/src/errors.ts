/**
 * Coded errors. Every error crm-sync throws on purpose is a `SyncError` with an UPPER_SNAKE `code`,
 * a message that names what is wrong, optional `details` for machines, and the original `cause`.
 * Branch on `code`, never on message text.
 */
export const errorCodes = {
  /** A configuration value is missing or invalid; `details.issues` lists each path and problem. */
  CONFIG_INVALID: 'Configuration is invalid',
  /** An entity name is not in the registry. */
  ENTITY_UNKNOWN: 'Unknown entity',
  /** R5: the entity syncs one way (CRM to local), so nothing of it may be created in the CRM. */
  CRM_CREATE_REFUSED: 'Creating this record in the CRM is not allowed',
  /** R8: the field does not exist in the CRM (local-only), so it is never pushed. */
  FIELD_NOT_IN_CRM: 'Field does not exist in the CRM',
  /** R6, R10: the sync user may not read the field, so it cannot be synced. */
  FIELD_NOT_READABLE: 'Field cannot be read by the sync user',
  /** R6: the sync user may not update the field, so it cannot be pushed. */
  FIELD_NOT_UPDATABLE: 'Field cannot be updated by the sync user',
  /** R6, R10: the field cannot join the sync this way (the primary key, a CRM bookkeeping column under the selection "all"); the message says why. */
  FIELD_NOT_ADDABLE: 'Field cannot be added to the sync',
  /** A local write is not allowed (unknown record, one-way field edited on a person, ...). */
  LOCAL_EDIT_INVALID: 'Local edit is invalid',
  /** A local value the CRM would refuse per its metadata (too long, wrong type, not an option, a required field cleared); nothing was written. */
  FIELD_VALUE_INVALID: 'Field value would be refused by the CRM',
  /** R12: the record was deleted in the CRM, so a local change of its CRM fields could never be pushed. */
  RECORD_CRM_DELETED: 'Record was deleted in the CRM',
  /** A read named a record the store does not hold (unknown id). */
  RECORD_UNKNOWN: 'No such record',
  /** The store keeps no field history (it has no `listFieldHistory`). */
  FIELD_HISTORY_UNAVAILABLE: 'The store keeps no field history',
  /** A replay named quarantine entries by id that are not open (unknown, or resolved already); nothing was retried. */
  QUARANTINE_ENTRY_UNKNOWN: 'No such open quarantine entry',
  /** A record changed in the store between read and commit; nothing of the batch was written. */
  STORE_CONFLICT: 'Record changed concurrently',
  /** The runner no longer holds the entity's lease (it expired and another runner took it); nothing was written. */
  LEASE_LOST: 'Lease on the entity lost',
  /** A store batch is malformed (e.g. writes for another entity); nothing was written. */
  STORE_BATCH_INVALID: 'Store batch is invalid',
  /** The store cannot be reached or failed; `cause` holds the driver error. */
  STORE_UNAVAILABLE: 'Store is unavailable',
  /** The CRM refused the credentials or the sync user lacks a privilege. */
  CRM_AUTH_FAILED: 'CRM authentication or authorization failed',
  /** The CRM kept throttling (429) after the retry budget was spent. */
  CRM_RATE_LIMITED: 'CRM rate limit not cleared within the retry budget',
  /** The CRM could not be reached or kept failing after the retry budget was spent. */
  CRM_UNAVAILABLE: 'CRM is unavailable',
  /**
   * The CRM or its sign-in authority cannot be reached and retrying cannot help: an unknown host, a
   * refused connection, a certificate or TLS failure. Not retried; the message names the cause and
   * `cause` holds the network error. It concerns the whole org (see `isOrgWideError`).
   */
  CRM_UNREACHABLE: 'CRM cannot be reached',
  /** The CRM answered with something that could not be understood. */
  CRM_RESPONSE_INVALID: 'CRM response is invalid',
  /** A CRM request was rejected (4xx) for a reason that retrying will not fix. */
  CRM_REQUEST_REJECTED: 'CRM rejected the request',
  /**
   * The CRM's metadata or the sync user's field access changed since the entity was planned (a
   * secured column can no longer be read); nothing was handed out. The engine plans the entity again.
   */
  CRM_SCHEMA_CHANGED: 'CRM metadata or field access changed',
  /** A checkpoint could not be used (expired delta token, unknown format); a full resync follows. */
  CHECKPOINT_INVALID: 'Checkpoint is no longer valid',
  /**
   * R12: a full read would flag more records as deleted in the CRM than the configured share allows;
   * nothing was flagged (protects against mass-flagging after a partial read).
   */
  RECONCILE_REFUSED: 'Delete reconciliation refused',
  /**
   * The daily request budget (`dailyRequestBudget`) is spent: no cycle starts until the rolling
   * 24-hour window frees room (`details.roomAt`); the message says how many requests and until when.
   */
  REQUEST_BUDGET_SPENT: 'Daily request budget spent',
  /** The operation was stopped (graceful shutdown). */
  ABORTED: 'Operation aborted',
} as const;

export type SyncErrorCode = keyof typeof errorCodes;

export interface SyncErrorOptions {
  cause?: unknown;
  /** Machine-readable context: ids, paths, HTTP status. Never secrets. */
  details?: Record<string, unknown>;
}

export class SyncError extends Error {
  override readonly name = 'SyncError';
  readonly code: SyncErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: SyncErrorCode, message: string, options: SyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** Type guard that also narrows by code: `isSyncError(e, 'STORE_CONFLICT')`. */
export function isSyncError(error: unknown, code?: SyncErrorCode): error is SyncError {
  return error instanceof SyncError && (code === undefined || error.code === code);
}

/**
 * A failure of the CRM connection as a whole rather than of one entity: `CRM_UNREACHABLE`, or any
 * error whose `details.scope` is `'org'` (credentials refused, a token that cannot be had, no connection
 * within the retry budget). Every other entity would only repeat it, so the engine stops the cycle at
 * the first one and marks the entities left as not run.
 */
export function isOrgWideError(error: unknown): error is SyncError {
  return isSyncError(error) && (error.code === 'CRM_UNREACHABLE' || error.details.scope === 'org');
}
