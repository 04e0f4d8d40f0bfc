import type { CrmAdapter } from '../contracts/crm.js';
import type { LocalRecord, SyncStore } from '../contracts/store.js';
import type { SyncConfig, SyncConfigInput } from '../config.js';
import { parseSyncConfig } from '../config.js';
import type { EntityDefinition, EntityRegistry } from '../entities.js';
import { createEntityRegistry } from '../entities.js';
import { SyncError } from '../errors.js';
import { fieldAddition } from '../rules/fields.js';
import type { FieldPlan } from '../rules/fields.js';
import type { FieldMap } from '../values.js';
import type { EngineContext, EntityPlan } from './context.js';
import { planEntity, readJsonList, stateKeys } from './context.js';
import type { CycleDeps, CycleOptions } from './cycle.js';
import { runCycle } from './cycle.js';
import type { DryRunOptions, DryRunReport } from './dry-run.js';
import { dryRunCycle } from './dry-run.js';
import type { CycleSummary, SyncEvent } from './events.js';
import type { FieldHistoryReport } from './history.js';
import { pruneFieldHistory, readFieldHistory } from './history.js';
import { createLeases } from './leases.js';
import type { OrgShare } from './org-share.js';
import { shareOrg } from './org-share.js';
import type { RequestLedger } from './request-budget.js';
import { budgetRefusal, budgetWait, createRequestLedger, describeUsage } from './request-budget.js';
import type { LocalEdit } from './local.js';
import { applyLocalEdit, createLocalPerson, deleteLocalRecord } from './local.js';
import { backfillFields } from './quick-sync.js';
import type { ReplayFilter, ReplayReport } from './replay.js';
import { replayQuarantine } from './replay.js';
import type { EngineTimer } from './scheduler.js';
import { createScheduler, realTimer } from './scheduler.js';
import { resumeStoppedField } from './schema-changes.js';

export type { CycleOptions } from './cycle.js';

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
  /**
   * The most CRM requests per rolling 24 hours that the runners on this store may send together
   * (see request-budget.ts): from 80% on the scheduler waits longer between cycles, once spent it
   * starts none until the window frees room, and a cycle asked for by hand is refused
   * (REQUEST_BUDGET_SPENT). Requests are counted with `engine.requests.count()`. Default: none.
   */
  dailyRequestBudget?: number | null;
}

export interface SyncEngine {
  readonly config: SyncConfig;
  /** This runner's lease owner name. */
  readonly runnerId: string;
  readonly registry: EntityRegistry;
  /** One cycle (R3, R16): per entity Quick Sync of new fields, pull pages, reconcile deletes, push. */
  runCycle(options?: CycleOptions): Promise<CycleSummary>;
  /**
   * A whole cycle's reads and rules with nothing written on either side (no store commit, no CRM
   * write, no lease, no events): what the next cycle would do, per entity. Runs after the cycle in progress.
   */
  dryRun(options?: DryRunOptions): Promise<DryRunReport>;
  /**
   * Retries open quarantine entries on demand (by ids, entity, reason, time range): rows a pull could
   * not apply are read again, refused pushes sent again. Only an entry applied is resolved; each
   * outcome is logged as a `replay` activity. Runs after the cycle in progress. Ids that name no open
   * entry: QUARANTINE_ENTRY_UNKNOWN, nothing retried.
   */
  replay(filter: ReplayFilter): Promise<ReplayReport>;
  /**
   * Why a field of a record holds its value: every value it held locally, oldest first, with when,
   * the side and the rule (see `readFieldHistory`). `field` is a field name or `company.<field>`.
   */
  fieldHistory(entity: string, id: string, field: string, page?: { limit?: number; after?: number }): Promise<FieldHistoryReport>;
  /** Field history retention now: removes entries older than `config.historyRetentionDays` (none when null); returns how many. */
  pruneHistory(): Promise<number>;
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
  /** The daily request count (every runner on the store) and its budget; the runner counts each CRM request here. */
  readonly requests: RequestLedger;
  /** The runners sharing the CRM org as of the last cycle (this one alone before any). */
  readonly orgShare: OrgShare;
}

/** What `addField` did: `backfilled` records got the field; `alreadySynced` when nothing was added. */
export interface AddFieldResult {
  entity: string;
  field: string;
  backfilled: number;
  alreadySynced: boolean;
}

/**
 * Creates the sync engine over a CRM adapter and a store. The wiring: leases.ts (which entities this
 * runner syncs), scheduler.ts (one cycle at a time, the wait between cycles), cycle.ts (one cycle over
 * the entities in fair turns), entity-run.ts (an entity's state in a cycle), pull-turn.ts and
 * first-load.ts (its pages), push.ts (its outbox).
 */
export function createSyncEngine(options: SyncEngineOptions): SyncEngine {
  const config = parseSyncConfig(options.config ?? {});
  const registry =
    options.registry ?? createEntityRegistry({ custom: config.customEntities, syncFilterField: config.syncFilterField });
  const listeners = options.onEvent;
  const runnerId = options.runnerId ?? `runner-${globalThis.crypto.randomUUID()}`;
  const leaseTtlMs = config.leaseTtlMs ?? config.intervalMs * 2 + 60_000;
  const baseStore = options.store;
  const leases = createLeases(baseStore, runnerId, leaseTtlMs);
  const ctx: EngineContext = {
    adapter: options.adapter,
    store: leases.store,
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

  async function plan(entity: EntityDefinition, fresh = false, signal?: AbortSignal): Promise<EntityPlan> {
    const ep = await planEntity(ctx, entity, fresh, signal);
    plans.set(entity.name, ep);
    return ep;
  }
  const cachedPlan = async (entity: EntityDefinition) => plans.get(entity.name) ?? plan(entity);

  const timer = options.timer ?? realTimer;
  const budget = options.dailyRequestBudget ?? null;
  const requests = createRequestLedger({ store: baseStore, owner: runnerId, budget, now: ctx.now });
  let orgShare: OrgShare = { runners: 1, owners: [runnerId] };
  const deps: CycleDeps = {
    ctx, leases, plan, registry, config,
    async shareOrg() {
      const next = await shareOrg(ctx, baseStore, runnerId);
      const changed = next.owners.join('\n') !== orgShare.owners.join('\n');
      orgShare = next;
      if (changed) ctx.emit({ type: 'org-share', ...next });
    },
  };
  // Field history retention, after a cycle at most once a day (by the engine's clock).
  let lastPruned: number | null = null;
  const pruneHistory = async (): Promise<number> => {
    if (config.historyRetentionDays === null) return 0;
    const now = ctx.now();
    const removed = await pruneFieldHistory(baseStore, now, config.historyRetentionDays);
    lastPruned = now.getTime();
    return removed;
  };
  const cycle = async (cycleOptions: CycleOptions = {}) => {
    let summary: CycleSummary;
    try {
      summary = await runCycle(deps, cycleOptions, (s) => (lastCycle = s));
    } finally {
      await requests.flush().catch(() => undefined);
    }
    if (config.historyRetentionDays !== null && (lastPruned === null || ctx.now().getTime() - lastPruned >= 86_400_000)) {
      await pruneHistory().catch(() => undefined); // a store that cannot prune now is asked again after the next cycle
    }
    return summary;
  };
  /** The budget's wait before the next cycle (`hold`: 0 unless spent), told when longer than the interval. */
  const budgetPause = async (hold: boolean, interval: number): Promise<number> => {
    if (budget === null) return hold ? 0 : interval;
    const usage = await requests.usage();
    const nowMs = ctx.now().getTime();
    if (hold && usage.state !== 'spent') return 0;
    const waitMs = budgetWait(usage, interval, nowMs);
    if (usage.state !== 'ok') {
      ctx.emit({ type: 'request-budget', ...usage, waitMs, nextCycleAt: new Date(nowMs + waitMs).toISOString(), detail: describeUsage(usage, waitMs) });
    }
    return waitMs;
  };
  const scheduler = createScheduler({
    config, timer, cycle: (signal) => cycle({ signal }), hold: (interval) => budgetPause(true, interval), wait: (interval) => budgetPause(false, interval),
  });
  /** A cycle asked for by a person: refused, saying why, while the budget is spent. */
  const refuseWhenSpent = async (): Promise<void> => {
    if (budget === null) return;
    const refusal = budgetRefusal(await requests.usage());
    if (refusal) throw refusal;
  };
  const exclusive = scheduler.exclusive;

  const engine: SyncEngine = {
    config,
    registry,
    runnerId,
    get lastCycle() {
      return lastCycle;
    },
    requests,
    get orgShare() {
      return orgShare;
    },

    runCycle: async (cycleOptions) => {
      await refuseWhenSpent();
      return exclusive(() => cycle(cycleOptions));
    },

    dryRun: (dryOptions) => exclusive(() => dryRunCycle(deps, dryOptions)),

    replay: (filter) => {
      if (filter.entity !== undefined) registry.get(filter.entity); // ENTITY_UNKNOWN before anything else
      return exclusive(() => replayQuarantine(deps, filter));
    },

    fieldHistory: (entityName, id, field, page = {}) =>
      readFieldHistory(baseStore, registry.get(entityName), id, field, { limit: page.limit ?? 100, ...(page.after !== undefined ? { after: page.after } : {}) }),

    pruneHistory,

    async fieldPlan(entityName) {
      // Asked for by a person (a schema refresh, R9): never from a cache.
      const ep = await plan(registry.get(entityName), true);
      return { ...ep.plan, changeTracking: ep.schema.changeTracking };
    },

    addField: (entityName, field) =>
      exclusive(async () => {
        const entity = registry.get(entityName);
        // A field stopped when the CRM changed its type syncs again, with its new type.
        await resumeStoppedField(ctx, entityName, field);
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

    trigger: async (cycleOptions) => {
      await refuseWhenSpent();
      return exclusive(() => cycle({ ...cycleOptions, ...(scheduler.signal ? { signal: scheduler.signal } : {}) }));
    },

    async stop() {
      await scheduler.stop();
      await requests.flush().catch(() => undefined);
      await leases.releaseAll();
    },
  };
  return engine;
}
