import type { CycleSummary, EntityCycleSummary } from '@crm-sync/core';

/** A failed entity run, as the Sync Errors view lists it. */
export interface EntityFailure {
  at: string;
  entity: string;
  code: string;
  message: string;
}

export interface CycleHistory {
  record(summary: CycleSummary): void;
  /** Finished cycles, oldest first (the last `size`). */
  cycles(): CycleSummary[];
  last(): CycleSummary | null;
  /** The entity's summary in the last cycle that included it. */
  lastRun(entity: string): (EntityCycleSummary & { finishedAt: string }) | null;
  /**
   * CRM rows the sync filter (R11) left out, summed over every cycle recorded since the runner
   * started (not only the last `size`): a first full read counts each such row once; a row changed
   * again in the CRM counts again.
   */
  filteredSinceStart(entity: string): number;
  /** Failed entity runs, newest first. */
  failures(): EntityFailure[];
}

/** Cycle history kept in memory for the dashboard, the status and the error list. */
export function createCycleHistory(size = 200, maxFailures = 1_000): CycleHistory {
  const cycles: CycleSummary[] = [];
  const lastRuns = new Map<string, EntityCycleSummary & { finishedAt: string }>();
  const filtered = new Map<string, number>();
  const failures: EntityFailure[] = [];
  return {
    record(summary) {
      cycles.push(summary);
      if (cycles.length > size) cycles.shift();
      for (const run of summary.entities) {
        lastRuns.set(run.entity, { ...run, finishedAt: summary.finishedAt });
        filtered.set(run.entity, (filtered.get(run.entity) ?? 0) + run.filtered);
        if (run.status === 'failed') {
          failures.unshift({ at: summary.finishedAt, entity: run.entity, code: run.error?.code ?? 'UNEXPECTED', message: run.error?.message ?? 'failed' });
        }
      }
      if (failures.length > maxFailures) failures.length = maxFailures;
    },
    cycles: () => [...cycles],
    last: () => cycles.at(-1) ?? null,
    lastRun: (entity) => lastRuns.get(entity) ?? null,
    filteredSinceStart: (entity) => filtered.get(entity) ?? 0,
    failures: () => [...failures],
  };
}
