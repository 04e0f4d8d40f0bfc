import { isSyncError } from '@crm-sync/core';
import type { SyncErrorCode } from '@crm-sync/core';

/** HTTP status of each SyncError code the API can meet. */
const STATUS: Partial<Record<SyncErrorCode, number>> = {
  CONFIG_INVALID: 400,
  ENTITY_UNKNOWN: 404,
  LOCAL_EDIT_INVALID: 422,
  FIELD_NOT_IN_CRM: 422,
  FIELD_NOT_READABLE: 422,
  FIELD_NOT_UPDATABLE: 422,
  FIELD_NOT_ADDABLE: 422,
  FIELD_VALUE_INVALID: 422,
  RECORD_CRM_DELETED: 409,
  QUARANTINE_ENTRY_UNKNOWN: 404,
  CRM_CREATE_REFUSED: 403,
  STORE_CONFLICT: 409,
  LEASE_LOST: 409,
  STORE_BATCH_INVALID: 500,
  STORE_UNAVAILABLE: 503,
  CRM_AUTH_FAILED: 502,
  CRM_RATE_LIMITED: 503,
  REQUEST_BUDGET_SPENT: 429,
  CRM_UNAVAILABLE: 503,
  CRM_UNREACHABLE: 503,
  CRM_RESPONSE_INVALID: 502,
  CRM_REQUEST_REJECTED: 502,
  ABORTED: 503,
};

export interface ApiError {
  status: number;
  body: { error: { code: string; message: string; issues?: string[]; known?: string[] } };
}

export function apiError(status: number, code: string, message: string, extra: Omit<ApiError['body']['error'], 'code' | 'message'> = {}): ApiError {
  return { status, body: { error: { code, message, ...extra } } };
}

/** An error a handler throws to answer with a 4xx of its own (typed routes return only their success shape). */
export interface ApiFailure extends Error {
  readonly name: 'ApiFailure';
  readonly answer: ApiError;
}

export function apiFailure(status: number, code: string, message: string, extra: Omit<ApiError['body']['error'], 'code' | 'message'> = {}): ApiFailure {
  return Object.assign(new Error(message), { name: 'ApiFailure' as const, answer: apiError(status, code, message, extra) });
}

/** A thrown error as an API answer: SyncErrors by code, anything else a 500 without internals. */
export function fromThrown(error: unknown, redact: (text: string) => string): ApiError {
  if (error instanceof Error && error.name === 'ApiFailure') return (error as ApiFailure).answer;
  if (isSyncError(error)) {
    const notFound = error.code === 'LOCAL_EDIT_INVALID' && error.details.notFound === true;
    const status = notFound ? 404 : (STATUS[error.code] ?? 500);
    const known = error.code === 'ENTITY_UNKNOWN' && Array.isArray(error.details.known) ? { known: error.details.known.map(String) } : {};
    return apiError(status, error.code, redact(error.message), known);
  }
  return apiError(500, 'INTERNAL', 'Internal error; see the runner log');
}
