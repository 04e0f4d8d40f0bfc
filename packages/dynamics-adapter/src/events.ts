import type { SyncError } from '@crm-sync/core';

/**
 * What the adapter reports for metrics and diagnostics. Paths never carry query strings (they may
 * hold paging cookies or delta tokens) and nothing carries a secret or a token.
 */
export type AdapterEvent =
  /**
   * One HTTP attempt finished (any status; `status` 0 = no response). `dopHint`: the response's
   * `x-ms-dop-hint`; `concurrency`: the requests the adapter now allows in flight after it;
   * `operations`: what the daily entitlement limits count it as when more than 1 (a `$batch` counts
   * each operation inside).
   */
  | { type: 'request'; method: string; path: string; status: number; attempt: number; durationMs: number; dopHint?: number; concurrency?: number; operations?: number }
  /**
   * An attempt failed in a way worth retrying; the adapter waits `waitMs` and tries again.
   * `keyless-row`: a page held a row with no readable key (a change that would otherwise be lost).
   */
  | { type: 'retry'; method: string; path: string; reason: 'throttled' | 'server-error' | 'network' | 'invalid-response' | 'keyless-row'; status: number; attempt: number; waitMs: number }
  /** A 429: every request of this adapter pauses until `retryAfterMs` has passed. */
  | { type: 'throttled'; method: string; path: string; retryAfterMs: number }
  /** A token was acquired (`forced` after a 401). */
  | { type: 'token'; forced: boolean }
  /**
   * A bulk message (CreateMultiple, UpdateMultiple) was refused, all or nothing: its `rows` are sent
   * again as $batch, where only the bad ones fail.
   */
  | { type: 'bulk-fallback'; entity: string; message: 'CreateMultiple' | 'UpdateMultiple'; rows: number; status: number }
  /** A checkpoint could not be used; a full read follows (`error.code` is CHECKPOINT_INVALID). */
  | { type: 'checkpoint-reset'; entity: string; error: SyncError };

export type EventSink = (event: AdapterEvent) => void;

/** Listener errors must never break a sync. */
export function safeSink(listener: EventSink | undefined): EventSink {
  if (!listener) return () => {};
  return (event) => {
    try {
      listener(event);
    } catch {
      // ignored on purpose: metrics are best effort
    }
  };
}
