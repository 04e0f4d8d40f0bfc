import type { ChangePage, CrmAdapter } from '../contracts/crm.js';
import type { LocalRecord, SyncStore } from '../contracts/store.js';
import type { SyncConfig, SyncConfigInput } from '../config.js';
import { parseSyncConfig } from '../config.js';
import type { EntityDefinition, EntityRegistry } from '../entities.js';
import { createEntityRegistry } from '../entities.js';
import { isOrgWideError, isSyncError, SyncError } from '../errors.js';
import { fencedStore } from '../store/define-store.js';
import { fieldAddition } from '../rules/fields.js';
import { cycleOrder, nextTurns } from '../rules/order.js';
import type { FieldPlan } from '../rules/fields.js';
import type { FieldMap } from '../values.js';
import type { EngineContext, EntityPlan } from './context.js';
import { commitWithRetry, planEntity, readJsonList, stateKeys } from './context.js';
import type { CycleSummary, EntityCycleSummary, SyncEvent } from './events.js';
import { emptySummary } from './events.js';
import type { LocalEdit } from './local.js';
import { applyLocalEdit, createLocalPerson, deleteLocalRecord } from './local.js';
import { noteSchemaDrift } from './drift.js';
import { buildPageBatch } from './pull.js';
import { pushOutbox } from './push.js';
import { backfillFields } from './quick-sync.js';
import { reconcileDeletes } from './reconcile.js';
import { retryQuarantined } from './retry.js';
import type { EngineTimer } from './scheduler.js';
import { createScheduler, realTimer } from './scheduler.js';

export interface SyncEngineOptions {
  adapter: CrmAdapter;
  store: SyncStore;
  /** Sync settings (validated); defaults apply for anything left out. */
  config?: SyncConfigInput;
  /** Defaults to the built-ins plus `config.customEntities`. */
  registry?: EntityRegistry;
  now?: () => Date;
  /** What the scheduler waits with between cycles (default: the global timers); tests inject their own. */
  timer?: EngineTimer;
  onEvent?: (event: SyncEvent) => void;
  /** This runner's name for leases when several runners share a store (default: a random id). */
  runnerId?: string;
}

export interface CycleOptions {
  /** Only these entities (default: every enabled entity). */
  entities?: readonly string[];
  /** Stops after the page in hand (two during a first load, whose next page is already being written); its checkpoint is committed. */
  signal?: AbortSignal;
}

export interface SyncEngine {
  readonly config: SyncConfig;
  /** This runner's lease owner name. */
  readonly runnerId: string;
  readonly registry: EntityRegistry;
  /** One cycle (R3, R16): per entity Quick Sync of new fields, pull pages, reconcile deletes, push. */
  runCycle(options?: CycleOptions): Promise<CycleSummary>;
  /** R6, R9: fresh metadata and what syncs, with the reason for each field left out. */
  fieldPlan(entity: string): Promise<FieldPlan & { changeTracking: boolean }>;
  /**
   * R10: adds a field to the selection and backfills it for every record (Quick Sync). A field the
   * plan already syncs is `alreadySynced` (nothing added); one that cannot be synced this way is
   * refused with its reason (`fieldAddition`: FIELD_NOT_IN_CRM, FIELD_NOT_READABLE, FIELD_NOT_ADDABLE).
   */
  addField(entity: string, field: string): Promise<AddFieldResult>;
  /** A local edit: persons (pushed next cycle), accounts (R4, never pushed). */
  editLocal(entity: string, id: string, edit: LocalEdit): Promise<LocalRecord>;
  /** A local delete of a person (R12: never in the CRM; the CRM sending the row again brings it back as a new person). */
  deleteLocal(entity: string, id: string): Promise<void>;
  /** R14: a new local person (a lead), created in the CRM by the next cycle when `syncToCrm`. */
  createPerson(fields: FieldMap, options?: { syncToCrm?: boolean }): Promise<LocalRecord>;
  /** R3: cycle, wait the interval, cycle again, until `stop()`. */
  start(): void;
  /** Runs a cycle now (after the one in progress, if any); resolves with its summary. */
  trigger(options?: Omit<CycleOptions, 'signal'>): Promise<CycleSummary>;
  /** Graceful stop: the page in hand (or two, see `signal`) is finished and committed, then the scheduler ends. */
  stop(): Promise<void>;
  /** Summary of the last finished cycle. */
  readonly lastCycle: CycleSummary | null;
}

/** What `addField` did: `backfilled` records got the field; `alreadySynced` when nothing was added. */
export interface AddFieldResult {
  entity: string;
  field: string;
  backfilled: number;
  alreadySynced: boolean;
}

/** Creates the sync engine over a CRM adapter and a store. */
export function createSyncEngine(options: SyncEngineOptions): SyncEngine {
  const config = parseSyncConfig(options.config ?? {});
  const registry =
    options.registry ?? createEntityRegistry({ custom: config.customEntities, syncFilterField: config.syncFilterField });
  const listeners = options.onEvent;
  const runnerId = options.runnerId ?? `runner-${globalThis.crypto.randomUUID()}`;
  const leaseTtlMs = config.leaseTtlMs ?? config.intervalMs * 2 + 60_000;
  const useLeases = options.store.capabilities.leases && typeof options.store.acquireLease === 'function';
  // Entities this runner holds the lease of; every commit for them carries the lease (fencing).
  const held = new Set<string>();
  const baseStore = options.store;
  const store = fencedStore(baseStore, (entity) => (held.has(entity) ? { owner: runnerId, ttlMs: leaseTtlMs } : undefined));
  const ctx: EngineContext = {
    adapter: options.adapter,
    store,
    registry,
    config,
    now: options.now ?? (() => new Date()),
    emit: (event) => listeners?.(event),
  };
  // Local edits commit without the lease: they are the marketing side's own changes, kept safe by
  // revisions, which a runner accepts whether or not it syncs the entity; with it, every edit would
  // wait for the lease row that each other edit and page of the entity holds until it commits.
  const localCtx: EngineContext = { ...ctx, store: baseStore };
  const plans = new Map<string, EntityPlan>();
  let lastCycle: CycleSummary | null = null;
  const scheduler = createScheduler({
    config,
    timer: options.timer ?? realTimer,
    cycle: (signal) => cycle({ signal }),
  });
  const exclusive = scheduler.exclusive;

  async function plan(entity: EntityDefinition, fresh = false, signal?: AbortSignal): Promise<EntityPlan> {
    const ep = await planEntity(ctx, entity, fresh, signal);
    plans.set(entity.name, ep);
    return ep;
  }
  const cachedPlan = async (entity: EntityDefinition) => plans.get(entity.name) ?? plan(entity);

  function selected(names?: readonly string[]): EntityDefinition[] {
    const wanted = names ? new Set(names.map((n) => registry.get(n).name)) : null;
    return cycleOrder(registry.all.filter((e) => (wanted ? wanted.has(e.name) : config.entities[e.name]?.enabled !== false)));
  }

  interface EntityRun {
    entity: EntityDefinition;
    ep?: EntityPlan;
    pages?: AsyncIterator<ChangePage>;
    /** The next page, already asked for: the adapter reads and parses it while this one commits. */
    ahead?: Promise<IteratorResult<ChangePage>> | undefined;
    /** A first full read into an entity with no records: pages are built without lookups (see buildPageBatch). */
    assumeNew?: boolean;
    /** Records the current full read created (its snapshot id and count): its reconciliation need not list them. */
    inserted?: { snapshot: string; count: number };
    summary: EntityCycleSummary;
    started: number;
    done: boolean;
  }

  function fail(run: EntityRun, error: unknown): void {
    run.done = true;
    const code = isSyncError(error) ? error.code : 'UNEXPECTED';
    if (code === 'LEASE_LOST') held.delete(run.entity.name);
    const message = error instanceof Error ? error.message : String(error);
    if (code === 'ABORTED') {
      run.summary.status = 'interrupted';
      return;
    }
    run.summary.status = 'failed';
    run.summary.error = { code, message };
    ctx.emit({ type: 'entity-failed', entity: run.entity.name, code, message });
  }

  async function prepare(run: EntityRun, signal?: AbortSignal): Promise<void> {
    const name = run.entity.name;
    if (useLeases) {
      // Several runners: only the holder of the entity's lease syncs it (R3 across processes).
      if (!(await baseStore.acquireLease?.(name, { owner: runnerId, ttlMs: leaseTtlMs }))) {
        held.delete(name);
        run.summary.status = 'skipped';
        run.done = true;
        return;
      }
      held.add(name);
    }
    // The stop signal reaches the metadata reads and their retries too.
    const ep = await plan(run.entity, false, signal);
    run.ep = ep;
    await noteSchemaDrift(ctx, ep);
    const pendingSnapshot = await ctx.store.getState(stateKeys.reconcile(name));
    if (pendingSnapshot !== null) run.summary.deleted += await reconcileDeletes(ctx, name, pendingSnapshot);
    if (ep.newFields.length > 0) run.summary.backfilled += await backfillFields(ctx, ep, ep.newFields, signal);
    run.summary.applied += await retryQuarantined(ctx, ep, signal);
    if (ep.storedSynced !== null && ep.storedSynced !== ep.syncedState && ep.newFields.length === 0) {
      // Fields that left the selection are forgotten, so adding them back later backfills them again.
      await ctx.store.commit({ entity: name, state: { [stateKeys.syncedFields(name)]: ep.syncedState } });
    }
    const checkpoint = await ctx.store.getCheckpoint(name);
    run.assumeNew = checkpoint === null && (await ctx.store.stats(name)).records === 0;
    const pages = ctx.adapter.pullChanges(run.entity, { checkpoint, fields: ep.pullFields, ...(signal ? { signal } : {}) });
    run.pages = pages[Symbol.asyncIterator]();
    run.ahead = undefined;
  }

  type BuiltPage = Awaited<ReturnType<typeof buildPageBatch>>;

  /** Commits one page (built again with lookups after a conflict) and adds it to the summary. */
  async function commitPage(run: EntityRun, page: ChangePage, prebuilt?: BuiltPage, after?: Promise<unknown>): Promise<void> {
    const ep = run.ep as EntityPlan;
    let counts: BuiltPage['counts'] | undefined;
    let created = 0;
    await commitWithRetry(
      ctx,
      async (attempt) => {
        if (attempt > 1) run.assumeNew = false;
        const built = attempt === 1 && prebuilt ? prebuilt : await buildPageBatch(ctx, ep, page, { assumeNew: run.assumeNew === true && page.snapshot !== null });
        counts = built.counts;
        created = 0;
        for (const r of built.batch.records ?? []) if (r.expectedRevision === 0) created += 1;
        return built.batch;
      },
      after ? { commit: { after } } : {},
    );
    // Every create of a snapshot's page is a distinct new record seen by it (an existing id conflicts).
    if (page.snapshot !== null) {
      const id = page.snapshot.id;
      run.inserted = { snapshot: id, count: (run.inserted?.snapshot === id ? run.inserted.count : 0) + created };
    }
    const s = run.summary;
    s.pages += 1;
    s.pulled += page.upserts.length + page.deletes.length + page.rejected.length;
    if (counts) {
      s.applied += counts.applied;
      s.echoes += counts.echoes;
      s.filtered += counts.filtered;
      s.deleted += counts.deleted;
      s.collisions += counts.collisions;
      s.quarantined += counts.quarantined;
    }
    const seconds = Math.max((Date.now() - run.started) / 1000, 0.001);
    ctx.emit({
      type: 'page-applied', entity: run.entity.name, pages: s.pages, pulled: s.pulled, applied: s.applied,
      recordsPerSecond: Math.round(s.pulled / seconds),
    });
  }

  /** Pulls up to `budget` pages; returns when the entity is drained, the budget is spent, or on stop. */
  async function pullTurn(run: EntityRun, budget: number, signal?: AbortSignal): Promise<void> {
    const ep = run.ep as EntityPlan;
    // A first full read into an empty entity builds its pages without store reads, so a page is
    // built and its records written while the page before it commits (the store makes it visible
    // only after that one: CommitOptions.after). Every other page waits for the commit before it.
    let inFlight: { done: Promise<void>; ids: Set<string> } | undefined;
    const settle = async () => {
      const previous = inFlight;
      inFlight = undefined;
      await previous?.done;
    };
    try {
      for (let n = 0; n < budget; n += 1) {
        if (signal?.aborted) {
          await settle();
          run.summary.status = 'interrupted';
          run.done = true;
          return;
        }
        const pages = run.pages as AsyncIterator<ChangePage>;
        const next = await (run.ahead ?? pages.next());
        run.ahead = undefined;
        if (next.done) {
          await settle();
          run.done = true;
          const snapshot = await ctx.store.getState(stateKeys.reconcile(run.entity.name));
          const inserted = run.inserted?.snapshot === snapshot ? run.inserted.count : 0;
          if (snapshot !== null) run.summary.deleted += await reconcileDeletes(ctx, run.entity.name, snapshot, inserted);
          // After the reconciliation: a quarantined row re-read now was in the full read, but the
          // record it creates carries no snapshot and would read as deleted in the CRM.
          if (run.summary.quarantined > 0) run.summary.applied += await retryQuarantined(ctx, ep, signal, 5);
          return;
        }
        const page = next.value;
        run.ahead = pages.next();
        // Awaited at the next page, or dropped with the run (its pull is then ended).
        run.ahead.catch(() => {});
        if (run.assumeNew !== true || page.snapshot === null) {
          await settle();
          await commitPage(run, page);
          continue;
        }
        // The page that completes the read decides from what the pages before it stored (a row
        // without a key in any of them means no deletes are flagged): it waits for their commits.
        if (page.snapshot.complete) await settle();
        const built = await buildPageBatch(ctx, ep, page, { assumeNew: true });
        const records = built.batch.records ?? [];
        const ids = new Set<string>();
        for (const r of records) ids.add(r.id);
        // Two pages may share a record only when the CRM changed it mid-read: those commit in turn.
        const shared = inFlight?.ids;
        const after = inFlight && !records.some((r) => shared?.has(r.id)) ? inFlight.done : undefined;
        if (!after) await settle();
        const done = commitPage(run, page, built, after);
        done.catch(() => {}); // awaited, and its error thrown, by settle() or as the next page's `after`
        // At most two commits in flight: the one before this is awaited here. If it failed, this
        // one fails with it and is awaited by settle() all the same: nothing runs on after the turn.
        inFlight = { done, ids };
        await after;
      }
    } catch (error) {
      // The first error is the entity's (a commit still in flight may fail with it or after it).
      await settle().catch(() => {});
      throw error;
    } finally {
      await settle();
    }
  }

  async function cycle(cycleOptions: CycleOptions = {}): Promise<CycleSummary> {
    const signal = cycleOptions.signal;
    const startedAt = ctx.now();
    const runs: EntityRun[] = selected(cycleOptions.entities).map((entity) => ({
      entity, summary: emptySummary(entity.name), started: Date.now(), done: false,
    }));
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
      fail(run, error);
      if (stop.org === null && isOrgWideError(error)) stop.org = { entity: run.entity.name, code: error.code };
    };
    const orReplan = async (run: EntityRun, error: unknown): Promise<void> => {
      if (!isSyncError(error, 'CRM_SCHEMA_CHANGED') || replanned.has(run)) return failed(run, error);
      replanned.add(run);
      await run.pages?.return?.();
      try {
        await prepare(run, signal);
      } catch (again) {
        failed(run, again);
      }
    };
    for (const run of runs) {
      if (stop.org || signal?.aborted) break;
      try {
        await prepare(run, signal);
      } catch (error) {
        await orReplan(run, error);
      }
    }
    // R16: entities take turns of `pagesPerTurn` pages in dependency order, so one entity's backlog
    // delays the others by a turn, not by the whole backlog.
    while (runs.some((r) => !r.done) && !signal?.aborted && !stop.org) {
      for (const { run, pages } of nextTurns(runs, config.pagesPerTurn)) {
        if (stop.org) break;
        try {
          await pullTurn(run, pages, signal);
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
        await run.pages?.return?.();
        continue;
      }
      try {
        const ep = run.ep as EntityPlan;
        let pushed = await pushOutbox(ctx, ep, signal);
        if (pushed.collisions > 0 && !signal?.aborted) {
          // A 412 means the CRM changed the record after our pull: pull again (R2 merge), push again.
          const again: EntityRun = { ...run, done: false };
          await prepare(again, signal);
          while (!again.done) await pullTurn(again, Number.MAX_SAFE_INTEGER, signal);
          const second = await pushOutbox(ctx, again.ep as EntityPlan, signal);
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
      } catch (error) {
        failed(run, error);
      }
    }
    for (const run of runs) {
      run.summary.durationMs = Date.now() - run.started;
      ctx.emit({ type: 'entity-finished', summary: run.summary });
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
    lastCycle = summary;
    ctx.emit({ type: 'cycle-finished', summary });
    return summary;
  }

  const engine: SyncEngine = {
    config,
    registry,
    runnerId,
    get lastCycle() {
      return lastCycle;
    },

    runCycle: (cycleOptions) => exclusive(() => cycle(cycleOptions)),

    async fieldPlan(entityName) {
      // Asked for by a person (a schema refresh, R9): never from a cache.
      const ep = await plan(registry.get(entityName), true);
      return { ...ep.plan, changeTracking: ep.schema.changeTracking };
    },

    addField: (entityName, field) =>
      exclusive(async () => {
        const entity = registry.get(entityName);
        const before = await plan(entity, true);
        const decision = fieldAddition(entity, before.schema, before.plan, field);
        if (decision.kind === 'refused') throw new SyncError(decision.code, decision.reason, { details: { entity: entityName, field } });
        // Synced, and its values already read: nothing to add.
        if (decision.kind === 'in-plan' && !before.newFields.includes(field)) return { entity: entityName, field, backfilled: 0, alreadySynced: true };
        if (decision.kind === 'add') {
          const added = (await readJsonList(ctx.store, stateKeys.addedFields(entityName))) ?? [];
          if (!added.includes(field)) {
            await ctx.store.commit({ entity: entityName, state: { [stateKeys.addedFields(entityName)]: JSON.stringify([...added, field]) } });
          }
        }
        const ep = await plan(entity);
        if (!ep.plan.synced.includes(field)) {
          throw new SyncError('FIELD_NOT_ADDABLE', `${entityName}.${field} was named but the field plan still leaves it out`, { details: { entity: entityName, field } });
        }
        // Before the entity's first full read there is nothing to backfill: that read brings the field.
        if (!ep.newFields.includes(field)) return { entity: entityName, field, backfilled: 0, alreadySynced: false };
        const backfilled = await backfillFields(ctx, ep, [field]);
        return { entity: entityName, field, backfilled, alreadySynced: false };
      }),

    editLocal: (entityName, id, edit) => applyLocalEdit(localCtx, cachedPlan, registry.get(entityName), id, edit),
    deleteLocal: (entityName, id) => deleteLocalRecord(localCtx, registry.get(entityName), id),

    async createPerson(fields, personOptions = {}) {
      const ep = await cachedPlan(registry.get('lead'));
      return createLocalPerson(localCtx, ep, fields, { syncToCrm: personOptions.syncToCrm ?? true });
    },

    start: () => scheduler.start(),

    trigger: (cycleOptions) => exclusive(() => cycle({ ...cycleOptions, ...(scheduler.signal ? { signal: scheduler.signal } : {}) })),

    async stop() {
      await scheduler.stop();
      // Hand the entities over at once instead of after the lease expires.
      for (const entity of held) await baseStore.releaseLease?.(entity, runnerId).catch(() => undefined);
      held.clear();
    },
  };
  return engine;
}
