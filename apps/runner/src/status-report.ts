import { changeTokenAge } from '@crm-sync/core';
import type { ChangeTokenAge, CycleSummary, EntityCycleSummary, EntityRegistry, StoreStats, SyncStore } from '@crm-sync/core';
import type { RunnerConfig } from './config/schema.js';
import type { CycleHistory } from './history.js';
import type { RunnerState } from './wiring/runtime.js';
import { runnerVersion } from './version.js';

export interface EntityStatus {
  entity: string;
  direction: 'both' | 'crm-to-local';
  kind: string;
  custom: boolean;
  stats: StoreStats;
  lastRun: (EntityCycleSummary & { finishedAt: string }) | null;
  /** CRM rows the sync filter (R11) left out in this runner's cycles; null without a running runner. */
  filteredSinceStart: number | null;
  /** The change token's age: the last complete read, and whether it is older than `sync.changeTokenWarnAfterMs`. */
  changeToken: Omit<ChangeTokenAge, 'entity'>;
}

export interface StatusReport {
  runner: {
    version: string;
    startedAt: string | null;
    demo: boolean;
    crm: { kind: string; url: string };
    store: { kind: string; description: string };
    intervalMs: number;
    scheduled: boolean;
    cycleInProgress: { startedAt: string; entities: string[] } | null;
    nextCycleAt: string | null;
  };
  lastCycle: CycleSummary | null;
  entities: EntityStatus[];
}

export interface StatusSources {
  config: RunnerConfig;
  demo: boolean;
  crm: { kind: string; url: string };
  registry: EntityRegistry;
  entities: readonly string[];
  store: SyncStore;
  /** The store plugin's description of the configured store. */
  storeDescription: string;
  history: CycleHistory | null;
  state: RunnerState | null;
}

/** The runner's status: what runs, the last cycle and per-entity counts. */
export async function statusReport(s: StatusSources): Promise<StatusReport> {
  const entities: EntityStatus[] = [];
  const now = new Date();
  for (const name of s.entities) {
    const def = s.registry.get(name);
    const age = await changeTokenAge(s.store, name, now, s.config.sync.changeTokenWarnAfterMs);
    const changeToken = { lastReadAt: age.lastReadAt, ageMs: age.ageMs, old: age.old };
    entities.push({
      entity: name,
      direction: def.direction,
      kind: def.kind,
      custom: def.custom,
      stats: await s.store.stats(name),
      lastRun: s.history?.lastRun(name) ?? null,
      filteredSinceStart: s.history ? s.history.filteredSinceStart(name) : null,
      changeToken,
    });
  }
  return {
    runner: {
      version: runnerVersion(),
      startedAt: s.state?.startedAt ?? null,
      demo: s.demo,
      crm: s.crm,
      store: { kind: s.config.store.kind, description: s.storeDescription },
      intervalMs: s.config.sync.intervalMs,
      scheduled: s.state?.scheduled ?? false,
      cycleInProgress: s.state?.cycle ?? null,
      nextCycleAt: s.state?.nextCycleAt ?? null,
    },
    lastCycle: s.history?.last() ?? null,
    entities,
  };
}
