import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { changeTokenAge } from '@crm-sync/core';
import type { CrmTrafficEvent, RequestUsage, SyncEvent, SyncStore } from '@crm-sync/core';

export interface Metrics {
  readonly registry: Registry;
  onSyncEvent(event: SyncEvent): void;
  /** CRM traffic, as the CRM plugin maps its adapter's events. */
  onCrmEvent(event: CrmTrafficEvent): void;
  /** The Prometheus text exposition, with the store gauges read now. */
  render(): Promise<string>;
  readonly contentType: string;
}

/** What the metrics read from the engine when scraped. */
export interface MetricSources {
  /** The daily request count and its budget (every runner on the store). */
  usage?: () => Promise<RequestUsage>;
  /** Runners sharing the CRM org (lease owners). */
  runners?: () => number;
}

/**
 * Prometheus metrics on a registry of their own (nothing global, no default process metrics).
 * `changeTokenWarnAfterMs`: the config's threshold for an old change token.
 */
export function createMetrics(store: SyncStore, entities: readonly string[], changeTokenWarnAfterMs = 5 * 86_400_000, sources: MetricSources = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const cycles = new Counter({ name: 'crm_sync_cycles_total', help: 'Finished sync cycles by outcome (ok, interrupted by a graceful stop, failed).', labelNames: ['status'], registers });
  const pulled = new Counter({ name: 'crm_sync_records_pulled_total', help: 'Rows received from the CRM.', labelNames: ['entity'], registers });
  const pushed = new Counter({ name: 'crm_sync_records_pushed_total', help: 'Local changes and new persons written to the CRM.', labelNames: ['entity'], registers });
  const collisions = new Counter({ name: 'crm_sync_collisions_total', help: 'Fields changed on both sides (R2).', labelNames: ['entity'], registers });
  const quarantined = new Counter({ name: 'crm_sync_quarantined_total', help: 'Records quarantined (not applied or not pushed).', labelNames: ['entity'], registers });
  const failed = new Counter({ name: 'crm_sync_entity_failures_total', help: 'Entity runs that failed.', labelNames: ['entity'], registers });
  const throttled = new Counter({ name: 'crm_sync_crm_throttled_total', help: 'CRM answers 429 (service protection limits).', registers });
  const requests = new Counter({ name: 'crm_sync_crm_requests_total', help: 'CRM HTTP requests by status class.', labelNames: ['status'], registers });
  const retries = new Counter({ name: 'crm_sync_crm_retries_total', help: 'CRM requests retried, by reason.', labelNames: ['reason'], registers });
  const duration = new Histogram({
    name: 'crm_sync_cycle_duration_seconds',
    help: 'Duration of sync cycles.',
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1_800, 3_600],
    registers,
  });
  const records = new Gauge({ name: 'crm_sync_entity_records', help: 'Local records per entity.', labelNames: ['entity'], registers });
  const pending = new Gauge({ name: 'crm_sync_pending_pushes', help: 'Local records with changes not yet in the CRM.', labelNames: ['entity'], registers });
  const tokenAge = new Gauge({ name: 'crm_sync_change_token_age_seconds', help: 'Seconds since the entity was last read to its end (its change token expires after about 7 days unused); absent before the first read.', labelNames: ['entity'], registers });
  const tokenOld = new Gauge({ name: 'crm_sync_change_token_old', help: '1 when the change token is older than sync.changeTokenWarnAfterMs, else 0.', labelNames: ['entity'], registers });
  const openQuarantine = new Gauge({ name: 'crm_sync_quarantine_open', help: 'Open quarantine entries per entity.', labelNames: ['entity'], registers });
  const dailyRequests = new Gauge({ name: 'crm_sync_daily_requests', help: 'CRM requests in the rolling 24 hours, every runner on the store together (a batch counts its operations).', registers });
  const dailyBudget = new Gauge({ name: 'crm_sync_daily_request_budget', help: 'crm.dailyRequestBudget: the most CRM requests per rolling 24 hours (absent when not set).', registers });
  const budgetSlowed = new Gauge({ name: 'crm_sync_request_budget_slowed', help: '1 while the daily request budget slows cycles down (from 80% of it) or holds them (spent), else 0.', registers });
  const budgetSpent = new Gauge({ name: 'crm_sync_request_budget_spent', help: '1 while the daily request budget is spent (no cycle starts until the window frees room), else 0.', registers });
  const dopHint = new Gauge({ name: 'crm_sync_crm_parallelism_recommended', help: "The CRM's latest recommended number of parallel requests (Dataverse x-ms-dop-hint), for the whole org.", registers });
  const concurrency = new Gauge({ name: 'crm_sync_crm_concurrency', help: "Requests this runner's adapter allows in flight: its share of the recommended parallelism, within crm.maxConcurrency.", registers });
  const runners = new Gauge({ name: 'crm_sync_runners_sharing_org', help: 'Runners sharing the CRM org (this one and the other holders of unexpired leases) as of the last cycle.', registers });

  // Every entity shows up from the first scrape, at zero.
  for (const entity of entities) {
    for (const counter of [pulled, pushed, collisions, quarantined, failed]) counter.inc({ entity }, 0);
  }
  for (const status of ['ok', 'interrupted', 'failed']) cycles.inc({ status }, 0);
  throttled.inc(0);

  return {
    registry,
    contentType: registry.contentType,
    onSyncEvent(event) {
      if (event.type === 'entity-finished') {
        const s = event.summary;
        pulled.inc({ entity: s.entity }, s.pulled);
        pushed.inc({ entity: s.entity }, s.pushed + s.created);
        collisions.inc({ entity: s.entity }, s.collisions);
        quarantined.inc({ entity: s.entity }, s.quarantined);
        if (s.status === 'failed') failed.inc({ entity: s.entity });
      } else if (event.type === 'cycle-finished') {
        cycles.inc({ status: event.summary.ok ? 'ok' : event.summary.interrupted ? 'interrupted' : 'failed' });
        duration.observe(event.summary.durationMs / 1000);
      }
    },
    onCrmEvent(event) {
      if (event.type === 'throttled') throttled.inc();
      else if (event.type === 'request') {
        requests.inc({ status: event.status === 0 ? 'none' : `${Math.floor(event.status / 100)}xx` });
        if (event.parallelism !== undefined) dopHint.set(event.parallelism);
        if (event.concurrency !== undefined) concurrency.set(event.concurrency);
      }
      else if (event.type === 'retry') retries.inc({ reason: event.reason });
    },
    async render() {
      for (const entity of entities) {
        const stats = await store.stats(entity);
        records.set({ entity }, stats.records);
        pending.set({ entity }, stats.pending);
        openQuarantine.set({ entity }, stats.quarantined);
        const age = await changeTokenAge(store, entity, new Date(), changeTokenWarnAfterMs);
        if (age.ageMs !== null) tokenAge.set({ entity }, Math.round(age.ageMs / 1000));
        tokenOld.set({ entity }, age.old ? 1 : 0);
      }
      if (sources.usage) {
        const usage = await sources.usage();
        dailyRequests.set(usage.used);
        if (usage.budget !== null) dailyBudget.set(usage.budget);
        budgetSlowed.set(usage.state === 'ok' ? 0 : 1);
        budgetSpent.set(usage.state === 'spent' ? 1 : 0);
      }
      if (sources.runners) runners.set(sources.runners());
      return registry.metrics();
    },
  };
}
