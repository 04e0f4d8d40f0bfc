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
  /** Failed entity runs, newest first. */
  failures(): EntityFailure[];
}

/** Cycle history kept in memory for the dashboard, the status and the error list. */
export function createCycleHistory(size = 200, maxFailures = 1_000): CycleHistory {
  const cycles: CycleSummary[] = [];
  const lastRuns = new Map<string, EntityCycleSummary & { finishedAt: string }>();
  const failures: EntityFailure[] = [];
  return {
    record(summary) {
      cycles.push(summary);
      if (cycles.length > size) cycles.shift();
      for (const run of summary.entities) {
        lastRuns.set(run.entity, { ...run, finishedAt: summary.finishedAt });
        if (run.status === 'failed') {
          failures.unshift({ at: summary.finishedAt, entity: run.entity, code: run.error?.code ?? 'UNEXPECTED', message: run.error?.message ?? 'failed' });
        }
      }
      if (failures.length > maxFailures) failures.length = maxFailures;
    },
    cycles: () => [...cycles],
    last: () => cycles.at(-1) ?? null,
    lastRun: (entity) => lastRuns.get(entity) ?? null,
    failures: () => [...failures],
  };
}
