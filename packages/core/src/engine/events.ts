import type { CrmSchemaChange } from '../contracts/crm.js';
import type { SchemaDrift } from '../rules/drift.js';
import type { OrgShare } from './org-share.js';
import type { RequestUsage } from './request-budget.js';
import type { ChangeTokenAge } from './token-age.js';

/** What one entity did in one cycle. */
export interface EntityCycleSummary {
  entity: string;
  /**
   * ok: done (read to its end and every local change pushed, possibly before a stop); interrupted: a
   * graceful stop came before it was done, the next cycle goes on from its committed checkpoint (not a
   * failure); failed: see `error`; skipped: another runner holds the entity's lease; not-run: not run
   * to its end because another entity of the cycle met a failure of the whole CRM connection (`error`
   * names it; see `isOrgWideError`), the next cycle goes on from its checkpoint.
   */
  status: 'ok' | 'interrupted' | 'failed' | 'skipped' | 'not-run';
  pages: number;
  /** Rows received from the CRM (upserts and deletes). */
  pulled: number;
  /** Local records created or changed by pulled rows. */
  applied: number;
  /** Rows that were the sync's own writes coming back (R13), ignored. */
  echoes: number;
  /** Rows skipped by the sync filter (R11). */
  filtered: number;
  /** Records flagged as deleted in the CRM (R12). */
  deleted: number;
  /** Local persons created in the CRM (R14). */
  created: number;
  /** Local changes written to the CRM. */
  pushed: number;
  collisions: number;
  quarantined: number;
  /** Records backfilled by Quick Sync (R10). */
  backfilled: number;
  durationMs: number;
  error?: { code: string; message: string };
}

export interface CycleSummary {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** True when every entity finished (no failure, nothing left for the next cycle). */
  ok: boolean;
  /**
   * True when a graceful stop ended the cycle before every entity finished and nothing failed: the
   * entities not done are `interrupted`, the others `ok`, and the next cycle goes on from the committed
   * checkpoints. An interrupted cycle is not a failed one (`ok` is false only because work is left).
   */
  interrupted: boolean;
  entities: EntityCycleSummary[];
}

/** Progress events for runners (terminal progress, dashboards, metrics). */
export type SyncEvent =
  | { type: 'cycle-started'; at: string; entities: string[] }
  | { type: 'page-applied'; entity: string; pages: number; pulled: number; applied: number; recordsPerSecond: number }
  | { type: 'backfill-progress'; entity: string; fields: string[]; records: number }
  /**
   * R9: the CRM's columns or the synced fields changed since the last cycle (told once); `detail` in
   * words. With `change`: one column change the adapter's feed reported, told on its own.
   */
  | ({ type: 'schema-drift'; entity: string; detail: string; change?: CrmSchemaChange } & SchemaDrift)
  /** The entity's change token is older than `changeTokenWarnAfterMs` (see `changeTokenAge`); `detail` in words. */
  | ({ type: 'change-token-old'; detail: string } & ChangeTokenAge)
  /**
   * The daily request budget slows the schedule down (`slowed`: a longer wait) or holds it (`spent`:
   * no cycle until `nextCycleAt`); told each time the scheduler waits longer than the interval.
   */
  | ({ type: 'request-budget'; detail: string; waitMs: number; nextCycleAt: string } & RequestUsage)
  /** The number of runners sharing the CRM org changed (see `shareOrg`); the adapter got its share. */
  | ({ type: 'org-share' } & OrgShare)
  | { type: 'pushed'; entity: string; pushed: number; created: number; failed: number }
  | { type: 'entity-finished'; summary: EntityCycleSummary }
  | { type: 'entity-failed'; entity: string; code: string; message: string }
  | { type: 'cycle-finished'; summary: CycleSummary };

export function emptySummary(entity: string): EntityCycleSummary {
  return {
    entity, status: 'ok', pages: 0, pulled: 0, applied: 0, echoes: 0, filtered: 0, deleted: 0, created: 0,
    pushed: 0, collisions: 0, quarantined: 0, backfilled: 0, durationMs: 0,
  };
}
