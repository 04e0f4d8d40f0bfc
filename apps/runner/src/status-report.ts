import { changeTokenAge, describeUsage, readRequestUsage } from '@crm-sync/core';
import type { ChangeTokenAge, CycleSummary, EntityCycleSummary, EntityRegistry, OrgShare, RequestUsage, StoreStats, SyncStore } from '@crm-sync/core';
import { dailyRequestBudget } from './config/schema.js';
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
  /** CRM requests in the rolling 24 hours (every runner on the store) against `crm.dailyRequestBudget`. */
  requests: RequestUsage & {
    /** In words, with what the budget does to the schedule. */
    detail: string;
    /** The wait before the next cycle the budget set (slowed or held), null while it sets none. */
    budgetWaitMs: number | null;
  };
  /** The CRM's recommended parallelism and this runner's share of it; null without a running runner or before the CRM said. */
  parallelism: { recommended: number | null; concurrency: number | null; runnersSharingOrg: number; owners: string[] } | null;
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
  /** The running engine's request count and org share; without a runner the count is read from the store. */
  engine?: { usage(): Promise<RequestUsage>; orgShare: OrgShare } | null;
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
  const usage = s.engine ? await s.engine.usage() : await readRequestUsage(s.store, dailyRequestBudget(s.config.crm), now);
  const budget = s.state?.budget ?? null;
  const share = s.engine?.orgShare ?? null;
  return {
    requests: { ...usage, detail: budget && usage.state !== 'ok' ? budget.detail : describeUsage(usage), budgetWaitMs: usage.state === 'ok' ? null : (budget?.waitMs ?? null) },
    parallelism: share
      ? { recommended: s.state?.parallelism?.recommended ?? null, concurrency: s.state?.parallelism?.concurrency ?? null, runnersSharingOrg: share.runners, owners: share.owners }
      : null,
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
