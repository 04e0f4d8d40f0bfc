import type { ChangePage } from '../contracts/crm.js';
import type { EntityDefinition } from '../entities.js';
import { isSyncError } from '../errors.js';
import type { EngineContext, EntityPlan } from './context.js';
import { stateKeys } from './context.js';
import type { CrmSchemaChange } from '../contracts/crm.js';
import { noteSchemaDrift } from './drift.js';
import type { EntityCycleSummary } from './events.js';
import { emptySummary } from './events.js';
import type { Leases } from './leases.js';
import { backfillFields } from './quick-sync.js';
import { reconcileDeletes } from './reconcile.js';
import { retryQuarantined } from './retry.js';
import { stopRetypedFields } from './schema-changes.js';
import { changeTokenAge, describeTokenAge } from './token-age.js';

/** Where an entity's run of a cycle stands. */
export type RunState =
  /** Not prepared yet. */
  | { phase: 'planned' }
  /** Reading change pages, a turn at a time (R16). */
  | {
      phase: 'pulling';
      plan: EntityPlan;
      pages: AsyncIterator<ChangePage>;
      /** The next page, already asked for: the adapter reads and parses it while this one commits. */
      ahead: Promise<IteratorResult<ChangePage>> | undefined;
      /** A first full read into an entity with no records: pages are built without lookups (see buildPageBatch). */
      assumeNew: boolean;
    }
  /** Read to its end: its outbox is pushed next. */
  | { phase: 'pulled'; plan: EntityPlan }
  /**
   * Over before its end (see `summary.status`: skipped, failed, interrupted): `plan` is its last plan
   * (null if none was made), `pages` the pull left open, to close.
   */
  | { phase: 'ended'; plan: EntityPlan | null; pages: AsyncIterator<ChangePage> | null };

export type PullingState = Extract<RunState, { phase: 'pulling' }>;

/** One entity's part of a cycle: its state, its summary, and what its full read created so far. */
export class EntityRun {
  state: RunState = { phase: 'planned' };
  /** Records the current full read created (its snapshot id and count): its reconciliation need not list them. */
  inserted: { snapshot: string; count: number } | null = null;
  /** Column changes the adapter's feed reported for this entity this cycle (R9), told at its preparation. */
  schemaChanges: CrmSchemaChange[] = [];
  /** When its current pull was opened: stored as the change token's age once it is read to its end. */
  pullOpenedAt: Date | null = null;

  constructor(
    readonly entity: EntityDefinition,
    readonly summary: EntityCycleSummary = emptySummary(entity.name),
    readonly started: number = Date.now(),
  ) {}

  /** Read to its end, or over: no more turns. */
  get done(): boolean {
    return this.state.phase === 'pulled' || this.state.phase === 'ended';
  }

  /** The plan of its latest preparation, null before one. */
  get plan(): EntityPlan | null {
    return this.state.phase === 'planned' ? null : this.state.plan;
  }

  /** The pull it has open, if any. */
  get pages(): AsyncIterator<ChangePage> | null {
    return this.state.phase === 'pulling' || this.state.phase === 'ended' ? this.state.pages : null;
  }

  /** The state of a run in its pull; a run asked for a page in any other state is a bug of the engine. */
  pulling(): PullingState {
    if (this.state.phase !== 'pulling') throw new Error(`${this.entity.name}: a pull turn in the ${this.state.phase} state`);
    return this.state;
  }

  /** No more turns: skipped, failed or interrupted (set `summary.status`). */
  end(): void {
    this.state = { phase: 'ended', plan: this.plan, pages: this.pages };
  }

  /** Closes the pull it has open (the adapter ends its reads). */
  async closePull(): Promise<void> {
    await this.pages?.return?.();
  }

  /** A new pull of the same entity, counted in the same summary (the re-pull after a 412). */
  again(): EntityRun {
    const run = new EntityRun(this.entity, this.summary, this.started);
    run.inserted = this.inserted;
    return run;
  }
}

/** What an entity's run needs of the engine. */
export interface RunDeps {
  ctx: EngineContext;
  leases: Leases;
  /** R6, R9: the entity's plan (`fresh`: metadata not from the adapter's cache); the engine keeps it for local edits. */
  plan(entity: EntityDefinition, fresh: boolean, signal?: AbortSignal): Promise<EntityPlan>;
}

/** Records a run's failure: `interrupted` for a stop (ABORTED), else `failed` with the error, told as an event. */
export function failRun(deps: RunDeps, run: EntityRun, error: unknown): void {
  run.end();
  const code = isSyncError(error) ? error.code : 'UNEXPECTED';
  if (code === 'LEASE_LOST') deps.leases.lost(run.entity.name);
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ABORTED') {
    run.summary.status = 'interrupted';
    return;
  }
  run.summary.status = 'failed';
  run.summary.error = { code, message };
  deps.ctx.emit({ type: 'entity-failed', entity: run.entity.name, code, message });
}

/**
 * Readies a run for its pull: the lease (or `skipped`), the plan, schema drift (R9), a reconciliation
 * left over, Quick Sync of new fields (R10), quarantined rows again, then opens the pull from the checkpoint.
 */
export async function prepareRun(deps: RunDeps, run: EntityRun, signal?: AbortSignal): Promise<void> {
  const { ctx } = deps;
  const name = run.entity.name;
  if (!(await deps.leases.acquire(name))) {
    run.summary.status = 'skipped';
    run.end();
    return;
  }
  await stopRetypedFields(ctx, name, run.schemaChanges);
  // The stop signal reaches the metadata reads and their retries too.
  const ep = await deps.plan(run.entity, false, signal);
  await noteSchemaDrift(ctx, ep, run.schemaChanges);
  // Told once: a second preparation in the cycle (a replan) does not tell them again.
  run.schemaChanges = [];
  const pendingSnapshot = await ctx.store.getState(stateKeys.reconcile(name));
  if (pendingSnapshot !== null) run.summary.deleted += await reconcileDeletes(ctx, name, pendingSnapshot);
  if (ep.newFields.length > 0) run.summary.backfilled += await backfillFields(ctx, ep, ep.newFields, signal);
  run.summary.applied += await retryQuarantined(ctx, ep, signal);
  if (ep.storedSynced !== null && ep.storedSynced !== ep.syncedState && ep.newFields.length === 0) {
    // Fields that left the selection are forgotten, so adding them back later backfills them again.
    await ctx.store.commit({ entity: name, state: { [stateKeys.syncedFields(name)]: ep.syncedState } });
  }
  const checkpoint = await ctx.store.getCheckpoint(name);
  const age = await changeTokenAge(ctx.store, name, ctx.now(), ctx.config.changeTokenWarnAfterMs);
  if (age.old && checkpoint !== null) ctx.emit({ type: 'change-token-old', ...age, detail: describeTokenAge(age) });
  run.pullOpenedAt = ctx.now();
  const assumeNew = checkpoint === null && (await ctx.store.stats(name)).records === 0;
  const pages = ctx.adapter.pullChanges(run.entity, { checkpoint, fields: ep.pullFields, ...(signal ? { signal } : {}) });
  run.state = { phase: 'pulling', plan: ep, pages: pages[Symbol.asyncIterator](), ahead: undefined, assumeNew };
}
