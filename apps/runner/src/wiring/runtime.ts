import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { createSyncEngine } from '@crm-sync/core';
import type { CrmConnection, CrmTrafficEvent, SyncEngine, SyncEvent, SyncStore } from '@crm-sync/core';
import type { LoadedConfig } from '../config/load.js';
import { dailyRequestBudget } from '../config/schema.js';
import type { RunnerConfig } from '../config/schema.js';
import { createCycleHistory } from '../history.js';
import type { CycleHistory } from '../history.js';
import type { Logger } from '../log/logger.js';
import { createProgressReporter } from '../log/progress.js';
import type { Redactor } from '../log/redactor.js';
import { createMetrics } from '../metrics.js';
import type { Metrics } from '../metrics.js';
import { connectCrm } from './crm.js';
import { openStore } from './store.js';

/** What the runner is doing right now, for the status and the dashboard. */
export interface RunnerState {
  startedAt: string;
  /** The cycle in progress, if any. */
  cycle: { startedAt: string; entities: string[] } | null;
  /** True while the scheduler runs (start). */
  scheduled: boolean;
  /** When the scheduler starts the next cycle (it waits the interval after each cycle, longer near the daily request budget). */
  nextCycleAt: string | null;
  /** What the daily request budget last did to the schedule (slowed it or held it), null while it did not. */
  budget: { state: 'slowed' | 'spent'; detail: string; waitMs: number } | null;
  /** The CRM's latest recommended parallelism (x-ms-dop-hint) and the requests this runner's adapter allows in flight; null before the CRM said. */
  parallelism: { recommended: number; concurrency: number | null } | null;
}

export interface Runtime {
  readonly loaded: LoadedConfig;
  readonly config: RunnerConfig;
  readonly logger: Logger;
  readonly redactor: Redactor;
  readonly crm: CrmConnection;
  readonly store: SyncStore;
  readonly engine: SyncEngine;
  readonly history: CycleHistory;
  readonly metrics: Metrics;
  readonly state: RunnerState;
  /** Names of the entities the cycles sync, in cycle order. */
  readonly entities: string[];
  /** Stops the scheduler (finishing the page in hand), then closes the store and the CRM side. */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  loaded: LoadedConfig;
  logger: Logger;
  redactor: Redactor;
}

/** Wires the CRM side, the store and the engine from a loaded config, with logs and metrics. */
export async function createRuntime({ loaded, logger, redactor }: RuntimeOptions): Promise<Runtime> {
  const { config } = loaded;
  const sinks: { crm: ((event: CrmTrafficEvent) => void) | null } = { crm: null };
  const crm = await connectCrm(loaded, { logger, onEvent: (event) => sinks.crm?.(event) });
  redactor.add(...(crm.secrets ?? []));
  let store: SyncStore;
  try {
    store = await openStore(loaded, { logger });
  } catch (error) {
    await crm.close().catch(() => undefined);
    throw error;
  }

  const history = createCycleHistory();
  const state: RunnerState = { startedAt: new Date().toISOString(), cycle: null, scheduled: false, nextCycleAt: null, budget: null, parallelism: null };
  const progress = createProgressReporter(logger, (entity) => crm.total?.(entity));
  // Set once the engine exists (the registry decides which entities the metrics know).
  let metrics: Metrics | null = null;
  const onEvent = (event: SyncEvent) => {
    if (event.type === 'cycle-started') {
      state.cycle = { startedAt: event.at, entities: event.entities };
      state.nextCycleAt = null;
    } else if (event.type === 'cycle-finished') {
      state.cycle = null;
      history.record(event.summary);
      if (state.scheduled) state.nextCycleAt = new Date(Date.now() + config.sync.intervalMs).toISOString();
      state.budget = null;
    } else if (event.type === 'request-budget') {
      // The budget lengthened the wait (or holds the schedule): say so, and when the next cycle comes.
      if (state.scheduled) state.nextCycleAt = event.nextCycleAt;
      state.budget = { state: event.state === 'spent' ? 'spent' : 'slowed', detail: event.detail, waitMs: event.waitMs };
      logger.warn(event.detail, { used: event.used, budget: event.budget, waitMs: event.waitMs, nextCycleAt: event.nextCycleAt });
    } else if (event.type === 'org-share') {
      logger.info(`${event.runners} runner(s) share the CRM org: each takes its share of the recommended parallelism`, { owners: event.owners });
    }
    metrics?.onSyncEvent(event);
    progress(event);
  };

  let engine: SyncEngine;
  try {
    // A readable lease owner when several runners share one database.
    engine = createSyncEngine({
      adapter: crm.adapter, store, config: config.sync, onEvent, runnerId: config.runner.id ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
      dailyRequestBudget: dailyRequestBudget(config.crm),
    });
  } catch (error) {
    await store.close().catch(() => undefined);
    await crm.close().catch(() => undefined);
    throw error;
  }
  const entities = engine.registry.all.filter((e) => config.sync.entities[e.name]?.enabled !== false).map((e) => e.name);
  const budgeted = engine;
  const built = createMetrics(store, entities, config.sync.changeTokenWarnAfterMs, {
    usage: () => budgeted.requests.usage(),
    runners: () => budgeted.orgShare.runners,
  });
  metrics = built;
  sinks.crm = (event) => {
    built.onCrmEvent(event);
    if (event.type === 'request') {
      // The daily budget counts what the CRM answered (errors and 429s too), a batch as its operations.
      if (event.status !== 0) budgeted.requests.count(event.operations ?? 1);
      if (event.parallelism !== undefined) state.parallelism = { recommended: event.parallelism, concurrency: event.concurrency ?? null };
    }
    if (event.type === 'throttled') logger.warn('CRM throttled, pausing', { path: event.path, retryAfterMs: event.retryAfterMs });
    else if (event.type === 'retry') logger.debug('CRM request retried', { ...event });
    else if (event.type === 'checkpoint-reset') logger.warn('checkpoint reset, full read follows', { entity: event.entity, reason: event.reason });
    else if (event.type === 'request') logger.debug('CRM request', { ...event });
  };

  let closed = false;
  return {
    loaded,
    config,
    logger,
    redactor,
    crm,
    store,
    engine,
    history,
    metrics: built,
    state,
    entities,
    async close() {
      if (closed) return;
      closed = true;
      await engine.stop();
      state.scheduled = false;
      await store.close();
      await crm.close();
    },
  };
}

/** Per-entity store stats, for summaries. */
export async function statsByEntity(runtime: Pick<Runtime, 'store'>, entities: readonly string[]) {
  const out: Record<string, Awaited<ReturnType<SyncStore['stats']>>> = {};
  for (const entity of entities) out[entity] = await runtime.store.stats(entity);
  return out;
}
