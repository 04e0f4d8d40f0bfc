import type { SyncConfig } from '../config.js';
import type { EntityDefinition, EntityRegistry } from '../entities.js';
import { isOrgWideError, isSyncError } from '../errors.js';
import { cycleOrder, nextTurns } from '../rules/order.js';
import type { EntityPlan } from './context.js';
import type { CycleSummary } from './events.js';
import type { RunDeps } from './entity-run.js';
import { EntityRun, failRun, prepareRun } from './entity-run.js';
import { pullTurn } from './pull-turn.js';
import { pushOutbox } from './push.js';
import { readSchemaChanges } from './schema-changes.js';
import type { Span } from '@opentelemetry/api';
import { inSpan, recordFailure, spanNames, startSpan, withSpan } from '../tracing.js';

export interface CycleOptions {
  /** Only these entities (default: every enabled entity). */
  entities?: readonly string[];
  /** Stops after the page in hand (two during a first load, whose next page is already being written); its checkpoint is committed. */
  signal?: AbortSignal;
}

export interface CycleDeps extends RunDeps {
  registry: EntityRegistry;
  config: SyncConfig;
  /** Once the entities' leases are taken: count the runners sharing the org and tell the adapter its share. */
  shareOrg?: () => Promise<void>;
}

/** R16: the entities of a cycle (those named, or every enabled one) in dependency order. */
function selected(deps: CycleDeps, names?: readonly string[]): EntityDefinition[] {
  const { registry, config } = deps;
  const wanted = names ? new Set(names.map((n) => registry.get(n).name)) : null;
  return cycleOrder(registry.all.filter((e) => (wanted ? wanted.has(e.name) : config.entities[e.name]?.enabled !== false)));
}

/** Pushes a run's outbox; a 412 (the CRM changed the record after our pull) pulls again (R2 merge) and pushes again. */
async function push(deps: CycleDeps, run: EntityRun, signal?: AbortSignal): Promise<void> {
  const plan = run.plan;
  if (run.state.phase !== 'pulled' || plan === null) throw new Error(`${run.entity.name}: a push in the ${run.state.phase} state`);
  const outbox = (p: EntityPlan) =>
    inSpan(spanNames.push, { 'crm_sync.entity': run.entity.name }, async (span) => {
      const result = await pushOutbox(deps.ctx, p, signal);
      span.setAttributes({ 'crm_sync.pushed': result.pushed, 'crm_sync.created': result.created, 'crm_sync.collisions': result.collisions, 'crm_sync.quarantined': result.quarantined });
      return result;
    });
  let pushed = await outbox(plan);
  if (pushed.collisions > 0 && !signal?.aborted) {
    const again = run.again();
    await prepareRun(deps, again, signal);
    while (!again.done) await pullTurn(deps, again, Number.MAX_SAFE_INTEGER, signal);
    // Skipped (another runner took the lease meanwhile): pushed with the plan of the first pull.
    const second = await outbox(again.plan ?? plan);
    pushed = {
      pushed: pushed.pushed + second.pushed,
      created: pushed.created + second.created,
      collisions: pushed.collisions + second.collisions,
      quarantined: pushed.quarantined + second.quarantined,
      stopped: second.stopped === true,
    };
  }
  if (pushed.stopped) run.summary.status = 'interrupted';
  run.summary.pushed += pushed.pushed;
  run.summary.created += pushed.created;
  run.summary.collisions += pushed.collisions;
  run.summary.quarantined += pushed.quarantined;
}

/**
 * One cycle (R3, R16): prepares each entity in dependency order, pulls in fair turns, then pushes each
 * entity read to its end. The first failure of the whole CRM connection stops it (the entities left are
 * `not-run`); a stop leaves the entities not done `interrupted`. Returns the summary, told as events.
 */
export function runCycle(deps: CycleDeps, options: CycleOptions, finished: (summary: CycleSummary) => void): Promise<CycleSummary> {
  return inSpan(spanNames.cycle, {}, async (span) => {
    const summary = await cycle(deps, options, finished);
    span.setAttributes({ 'crm_sync.ok': summary.ok, 'crm_sync.entities': summary.entities.length });
    return summary;
  });
}

/** The span of each entity's run: prepare, pull turns and push run in it, so their pages and requests are its children. */
function entitySpans(): { run<T>(run: EntityRun, fn: () => Promise<T>): Promise<T>; end(run: EntityRun): void } {
  const spans = new Map<EntityRun, Span>();
  const spanOf = (run: EntityRun): Span => {
    let span = spans.get(run);
    if (!span) {
      span = startSpan(spanNames.entity, { 'crm_sync.entity': run.entity.name });
      spans.set(run, span);
    }
    return span;
  };
  return {
    run: (run, fn) => withSpan(spanOf(run), fn),
    end(run) {
      const span = spans.get(run);
      if (!span) return;
      const s = run.summary;
      span.setAttributes({
        'crm_sync.status': s.status, 'crm_sync.pages': s.pages, 'crm_sync.pulled': s.pulled, 'crm_sync.applied': s.applied,
        'crm_sync.pushed': s.pushed, 'crm_sync.collisions': s.collisions, 'crm_sync.quarantined': s.quarantined,
      });
      if (s.error) recordFailure(span, Object.assign(new Error(s.error.message), { code: s.error.code }));
      span.end();
    },
  };
}

async function cycle(deps: CycleDeps, options: CycleOptions, finished: (summary: CycleSummary) => void): Promise<CycleSummary> {
  const { ctx, config } = deps;
  const signal = options.signal;
  const startedAt = ctx.now();
  const runs = selected(deps, options.entities).map((entity) => new EntityRun(entity));
  const traced = entitySpans();
  ctx.emit({ type: 'cycle-started', at: startedAt.toISOString(), entities: runs.map((r) => r.entity.name) });
  /**
   * The CRM changed under the plan (a secured column no longer readable; nothing was handed out):
   * the entity is planned again once per cycle and its pull starts over from the stored checkpoint.
   */
  const replanned = new Set<EntityRun>();
  /**
   * The first failure of the CRM connection as a whole (unreachable, credentials refused): every
   * other entity would only repeat it, so the cycle stops there and the entities left are not run.
   */
  const stop: { org: { entity: string; code: string } | null } = { org: null };
  const failed = (run: EntityRun, error: unknown): void => {
    failRun(deps, run, error);
    if (stop.org === null && isOrgWideError(error)) stop.org = { entity: run.entity.name, code: error.code };
  };
  const orReplan = async (run: EntityRun, error: unknown): Promise<void> => {
    if (!isSyncError(error, 'CRM_SCHEMA_CHANGED') || replanned.has(run)) return failed(run, error);
    replanned.add(run);
    await run.closePull();
    try {
      await traced.run(run, () => prepareRun(deps, run, signal));
    } catch (again) {
      failed(run, again);
    }
  };
  // R9: one read of the adapter's column-change feed for every entity, before any is planned.
  const changes = await readSchemaChanges(ctx, runs.map((r) => r.entity), signal);
  for (const run of runs) run.schemaChanges = changes.get(run.entity.name) ?? [];
  for (const run of runs) {
    if (stop.org || signal?.aborted) break;
    try {
      await traced.run(run, () => prepareRun(deps, run, signal));
    } catch (error) {
      await orReplan(run, error);
    }
  }
  // The leases are taken now: the runners that hold one share the org's parallelism from here on.
  if (!signal?.aborted) await deps.shareOrg?.();
  // R16: entities take turns of `pagesPerTurn` pages in dependency order, so one entity's backlog
  // delays the others by a turn, not by the whole backlog.
  while (runs.some((r) => !r.done) && !signal?.aborted && !stop.org) {
    for (const { run, pages } of nextTurns(runs, config.pagesPerTurn)) {
      if (stop.org) break;
      try {
        await traced.run(run, () => pullTurn(deps, run, pages, signal));
      } catch (error) {
        await orReplan(run, error);
      }
    }
  }
  for (const run of runs) {
    if (stop.org && run.summary.status === 'ok') {
      const { entity, code } = stop.org;
      run.summary.status = 'not-run';
      run.summary.error = { code, message: `not run: the cycle stopped when ${entity} failed with ${code}, a failure of the whole CRM connection` };
    }
    // A stop: an entity whose pull had not ended is interrupted; one read to its end is still done
    // if nothing waits to be pushed (nothing more is sent to the CRM after a stop).
    if (signal?.aborted && run.summary.status === 'ok' && !run.done) run.summary.status = 'interrupted';
    if (run.summary.status !== 'ok') {
      if (run.summary.status === 'skipped') continue;
      await run.closePull();
      continue;
    }
    try {
      await traced.run(run, () => push(deps, run, signal));
    } catch (error) {
      failed(run, error);
    }
  }
  for (const run of runs) {
    run.summary.durationMs = Date.now() - run.started;
    ctx.emit({ type: 'entity-finished', summary: run.summary });
    traced.end(run);
  }
  const finishedAt = ctx.now();
  const ok = runs.every((r) => r.summary.status === 'ok' || r.summary.status === 'skipped');
  const summary: CycleSummary = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    ok,
    interrupted: !ok && signal?.aborted === true && runs.every((r) => ['ok', 'skipped', 'interrupted'].includes(r.summary.status)),
    entities: runs.map((r) => r.summary),
  };
  finished(summary);
  ctx.emit({ type: 'cycle-finished', summary });
  return summary;
}
