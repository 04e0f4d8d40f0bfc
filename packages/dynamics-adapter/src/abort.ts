import { SyncError } from '@crm-sync/core';

export function abortError(cause?: unknown): SyncError {
  return new SyncError('ABORTED', '[dynamics-adapter] Aborted', cause === undefined ? {} : { cause });
}
