import type { ChangePage, CrmAdapter, CrmWriteResult } from '../contracts/crm.js';
import type { StoreBatch } from '../contracts/store.js';
import type { FieldMap, FieldValue } from '../values.js';
import type { EngineContext } from './context.js';
import { planEntity } from './context.js';
import type { CycleDeps, CycleOptions } from './cycle.js';
import { runCycle } from './cycle.js';
import type { EntityCycleSummary } from './events.js';
import { createLeases } from './leases.js';
import type { RecordChange } from './dry-run-store.js';
import { dryRunStore } from './dry-run-store.js';

/** A list of the plan: `total` entries, the first `items` of them (at most `DryRunOptions.listLimit`). */
export interface PlanList<T> {
  total: number;
  items: T[];
}

/** What a cycle would do to one entity. */
export interface EntityPlanReport {
  entity: string;
  /** The counts the cycle would report (status, pulled, applied, deleted, pushed, created, ...). */
  summary: EntityCycleSummary;
  /** Local records the cycle would create, with the fields they would get. */
  created: PlanList<{ id: string; fields: string[] }>;
  /** Local records whose values would change, with the fields changed. */
  updated: PlanList<{ id: string; fields: string[] }>;
  /** Writes to the CRM: pending changes (`update`) and local persons created there (`create`, R14). */
  pushes: PlanList<{ id: string; kind: 'update' | 'create'; fields: FieldMap }>;
  /** R2: fields changed on both sides, with the side whose value wins. */
  collisions: PlanList<{ recordId: string; field: string; localValue: FieldValue; crmValue: FieldValue; winner: 'local' | 'crm' }>;
  /** R12: records that would be flagged as deleted in the CRM. */
  deletes: PlanList<{ id: string; detail: string | null }>;
  /**
   * R4, R7: account values copied to the records linked to an account, and the Change Data Value
   * entries that logs: at most `changeDataValues` (a record whose company value already is the new one logs none).
   */
  fanOuts: PlanList<{ entity: string; accountId: string; records: number; changeDataValues: number }>;
  /** R6, R8: CRM fields left out of the sync and selected names the CRM lacks, each with why. */
  skippedFields: Array<{ field: string; reason: string }>;
  /** Calls to the CRM adapter: reads the dry run made (metadata, pages, row reads) and writes the cycle would send. */
  crmRequests: { reads: number; writes: number };
}

export interface DryRunReport {
  dryRun: true;
  startedAt: string;
  finishedAt: string;
  /** How long the dry run's reads took: the real cycle costs about as much, plus its writes. */
  durationMs: number;
  ok: boolean;
  entities: EntityPlanReport[];
}

export interface DryRunOptions extends Pick<CycleOptions, 'entities'> {
  /** Entries listed per list of the plan (the totals count them all); default 200. */
  listLimit?: number;
}

type Collector = ReturnType<typeof collector>;

function collector(limit: number) {
  const entities = new Map<string, Omit<EntityPlanReport, 'summary' | 'skippedFields'>>();
  const list = <T>(): PlanList<T> => ({ total: 0, items: [] });
  const of = (entity: string) => {
    let e = entities.get(entity);
    if (!e) {
      e = { entity, created: list(), updated: list(), pushes: list(), collisions: list(), deletes: list(), fanOuts: list(), crmRequests: { reads: 0, writes: 0 } };
      entities.set(entity, e);
    }
    return e;
  };
  const add = <T>(l: PlanList<T>, item: T) => {
    l.total += 1;
    if (l.items.length < limit) l.items.push(item);
  };
  return { of, add, entities };
}

/** What a batch would have written, in the plan's words (activities give the reason of a delete). */
function noteBatch(c: Collector, batch: StoreBatch, changes: RecordChange[], members: (entity: string, accountId: string) => number): void {
  const e = c.of(batch.entity);
  const deleteDetail = new Map<string, string | null>();
  for (const a of batch.activities ?? []) if (a.type === 'crm-deleted') deleteDetail.set(a.recordId, a.detail ?? null);
  for (const w of batch.records ?? []) if (w.crmDeleted === true) c.add(e.deletes, { id: w.id, detail: deleteDetail.get(w.id) ?? null });
  for (const change of changes) {
    if (change.created) c.add(e.created, { id: change.id, fields: change.fields });
    else if (change.fields.length > 0) c.add(e.updated, { id: change.id, fields: change.fields });
  }
  for (const k of batch.collisions ?? []) {
    c.add(e.collisions, { recordId: k.recordId, field: k.field, localValue: k.localValue, crmValue: k.crmValue, winner: k.winner });
  }
  for (const f of batch.fanOuts ?? []) {
    const records = members(f.entity, f.accountId);
    // The store logs one entry per record and watched key whose value changes: at most this many.
    const changeDataValues = f.log ? records * Object.keys(f.log.fields).length : 0;
    c.add(e.fanOuts, { entity: f.entity, accountId: f.accountId, records, changeDataValues });
  }
}

/** The adapter of a dry run: reads go to the CRM and are counted; writes are recorded, never sent, and answered as accepted. */
function dryRunAdapter(real: CrmAdapter, c: Collector): CrmAdapter {
  const accepted = (id: string, created: boolean): CrmWriteResult => ({ id, ok: true, version: 'dry-run', created });
  return {
    name: real.name,
    capabilities: real.capabilities,
    whoAmI: () => real.whoAmI(),
    async describeEntity(entity, options) {
      c.of(entity.name).crmRequests.reads += 1;
      return real.describeEntity(entity, options);
    },
    async *pullChanges(entity, request): AsyncIterable<ChangePage> {
      for await (const page of real.pullChanges(entity, request)) {
        c.of(entity.name).crmRequests.reads += 1;
        yield page;
      }
    },
    async *readAll(entity, request) {
      for await (const page of real.readAll(entity, request)) {
        c.of(entity.name).crmRequests.reads += 1;
        yield page;
      }
    },
    ...(real.readRecords
      ? {
        readRecords: async (entity, request) => {
          c.of(entity.name).crmRequests.reads += 1;
          return (real.readRecords as NonNullable<CrmAdapter['readRecords']>)(entity, request);
        },
      }
      : {}),
    async updateRecords(entity, updates) {
      const e = c.of(entity.name);
      e.crmRequests.writes += 1;
      for (const u of updates) c.add(e.pushes, { id: u.id, kind: 'update', fields: u.fields });
      return updates.map((u) => accepted(u.id, false));
    },
    async createRecords(entity, creates) {
      const e = c.of(entity.name);
      e.crmRequests.writes += 1;
      for (const u of creates) c.add(e.pushes, { id: u.id, kind: 'create', fields: u.fields });
      return creates.map((u) => accepted(u.id, true));
    },
  };
}

/**
 * A whole cycle's reads and rules with nothing written on either side: the same cycle code runs
 * against a store that keeps its commits to itself (dry-run-store.ts) and an adapter that records
 * the writes it is given instead of sending them. Events are not told and no lease is taken.
 */
export async function dryRunCycle(deps: CycleDeps, options: DryRunOptions = {}): Promise<DryRunReport> {
  const c = collector(options.listLimit ?? 200);
  const { ctx: real } = deps;
  // Account members as the real store holds them, for the fan-outs' counts.
  const memberCounts = new Map<string, number>();
  const batches: Array<[StoreBatch, RecordChange[]]> = [];
  const store = dryRunStore(real.store, (batch, changes) => batches.push([batch, changes]));
  const ctx: EngineContext = { ...real, store, adapter: dryRunAdapter(real.adapter, c), emit: () => {} };
  const plans = new Map<string, Awaited<ReturnType<typeof planEntity>>>();
  const dryDeps: CycleDeps = {
    ...deps, ctx, leases: createLeases(store, 'dry-run', 60_000),
    async plan(entity, fresh, signal) {
      const ep = await planEntity(ctx, entity, fresh, signal);
      plans.set(entity.name, ep);
      return ep;
    },
  };
  const cycle = await runCycle(dryDeps, options.entities ? { entities: options.entities } : {}, () => {});
  for (const [batch, changes] of batches) {
    for (const f of batch.fanOuts ?? []) {
      const key = `${f.entity}\u0000${f.accountId}`;
      if (!memberCounts.has(key)) memberCounts.set(key, (await real.store.countByAccount(f.entity, [f.accountId])).get(f.accountId) ?? 0);
    }
    noteBatch(c, batch, changes, (entity, accountId) => memberCounts.get(`${entity}\u0000${accountId}`) ?? 0);
  }
  const entities = cycle.entities.map((summary): EntityPlanReport => {
    const ep = plans.get(summary.entity);
    const skippedFields = [
      ...(ep?.plan.excluded ?? []).map((x) => ({ field: x.field, reason: x.reason as string })),
      ...(ep?.plan.unknown ?? []).map((field) => ({ field, reason: 'not-in-crm' })),
    ];
    return { ...c.of(summary.entity), summary, skippedFields };
  });
  return { dryRun: true, startedAt: cycle.startedAt, finishedAt: cycle.finishedAt, durationMs: cycle.durationMs, ok: cycle.ok, entities };
}
