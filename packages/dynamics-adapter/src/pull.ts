import { randomUUID } from 'node:crypto';
import { isSyncError, SyncError } from '@crm-sync/core';
import type { ChangePage, CrmRecord, EntityDefinition, PullRequest, RejectedRow } from '@crm-sync/core';
import { abortError } from './abort.js';
import { decodeCheckpoint } from './checkpoint.js';
import type { Checkpoint, WatermarkCheckpoint } from './checkpoint.js';
import { convert, pageOf, sameFields } from './convert.js';
import type { Converted, Plan } from './convert.js';
import type { EventSink } from './events.js';
import type { HttpClient } from './http.js';
import type { MetadataService } from './metadata.js';
import type { ResolvedOptions } from './options.js';
import { restoreSelect, withSelect } from './pages.js';
import type { createPageReader } from './pages.js';
import { collectionUrl, dateTimeLiteral, guid, isGuid, LOOKUP_ANNOTATION, prefer } from './odata/query.js';
import { propertyOf } from './odata/types.js';
import { createRangeLoader } from './ranges.js';

export interface PullContext {
  http: HttpClient;
  metadata: MetadataService;
  reader: ReturnType<typeof createPageReader>;
  options: ResolvedOptions;
  emit: EventSink;
}

export function createPuller(context: PullContext) {
  const { http, metadata, reader, options, emit } = context;
  const pageSize = options.pageSize;

  const headers = (tracking: boolean): Record<string, string> => ({
    Prefer: prefer({ trackChanges: tracking, maxPageSize: pageSize, annotations: [LOOKUP_ANNOTATION] }),
  });

  const makePlan = async (entity: EntityDefinition, requested: readonly string[], signal: AbortSignal | undefined): Promise<Plan> => {
    const resolved = await metadata.resolveFields(entity, [...new Set(requested)].sort(), signal);
    const meta = resolved.metadata;
    // The key column is read on every row as its id, never as a field.
    const attributes = resolved.attributes.filter((a) => a.logicalName !== meta.primaryKey);
    const fields = attributes.map((a) => a.logicalName);
    const { userId } = await metadata.whoAmI(signal);
    const selectable = attributes.filter((a) => a.validForRead);
    const select = new Set<string>([meta.primaryKey, ...selectable.map(propertyOf)]);
    if (meta.hasModifiedOn) select.add('modifiedon');
    if (meta.hasModifiedBy) select.add('_modifiedby_value');
    return {
      entity,
      meta,
      spec: { primaryKey: meta.primaryKey, fields: selectable, syncUserId: userId },
      nullFields: attributes.filter((a) => !a.validForRead).map((a) => a.logicalName),
      select: [...select],
      fields,
      signal,
    };
  };

  const checkAbort = (signal: AbortSignal | undefined) => {
    if (signal?.aborted) throw abortError(signal.reason);
  };

  const reset = (entity: EntityDefinition, error: SyncError) => emit({ type: 'checkpoint-reset', entity: entity.name, error });

  /** A snapshot's last checkpoint: the deltaLink, or (tracking on but no deltaLink came) a full read in watermark mode next. */
  const finish = (plan: Plan, deltaLink: string | null): Checkpoint =>
    deltaLink ? { v: 1, entity: plan.entity.name, mode: 'delta', link: deltaLink, fields: plan.fields } : freshWatermark(plan);

  const ranges = createRangeLoader({
    http,
    reader,
    options,
    // The spine's deltaLink selects only the key: the delta gets our $select put on it.
    finish: (plan, deltaLink) => {
      const checkpoint = finish(plan, deltaLink);
      return checkpoint.mode === 'delta' ? { ...checkpoint, check: true } : checkpoint;
    },
    reset: (plan, error) => reset(plan.entity, error),
  });

  /**
   * A new snapshot of a change-tracked table: in parallel ranges, or page after page. `auto` goes
   * parallel once the service has sent rate-limit headers: a request is charged at most the time it
   * runs, so one reader spends at most 1 ms of execution per ms, and the documented budget allows 4
   * (1,200 s per 300 s). Without the headers there is no budget to spend, and page after page is
   * cheapest.
   */
  const initialLoad = (plan: Plan, restarts: number): AsyncGenerator<ChangePage> => {
    const { parallel } = options.initialLoad;
    const inRanges = parallel === true || (parallel === 'auto' && http.limited());
    return inRanges ? ranges.load(plan, null, restarts) : trackingSnapshot(plan, null, restarts);
  };

  /** The initial change-tracking read, page after page: a snapshot whose last page carries the deltaLink. */
  async function* trackingSnapshot(plan: Plan, resume: { snapshot: string; next: string } | null, restarts: number): AsyncGenerator<ChangePage> {
    const snapshot = resume?.snapshot ?? randomUUID();
    const url = resume ? restoreSelect(resume.next, plan.select) : collectionUrl(http.root, plan.meta.entitySet, { select: plan.select });
    // GET /api/data/v9.2/<set>?$select=... with Prefer: odata.track-changes, odata.maxpagesize=N (then each @odata.nextLink).
    for await (const page of reader.pages({ url, stored: resume !== null, headers: headers(true), signal: plan.signal, what: `GET ${plan.meta.entitySet}`, primaryKey: plan.meta.primaryKey, select: plan.select })) {
      checkAbort(plan.signal);
      if (page.kind === 'link-rejected') {
        if (restarts > 0) throw page.error;
        reset(plan.entity, page.error);
        yield* trackingSnapshot(plan, null, restarts + 1);
        return;
      }
      const rows = await fill(plan, convert(plan, page.rows));
      const checkpoint: Checkpoint = page.nextLink
        ? { v: 1, entity: plan.entity.name, mode: 'tracking-snapshot', snapshot, next: page.nextLink, fields: plan.fields }
        : finish(plan, page.deltaLink);
      yield pageOf(rows, checkpoint, { id: snapshot, complete: page.nextLink === null });
    }
  }

  const freshWatermark = (plan: Plan): WatermarkCheckpoint => ({
    v: 1,
    entity: plan.entity.name,
    mode: 'watermark',
    fields: plan.fields,
    modifiedon: null,
    recent: [],
    next: null,
    snapshot: null,
    pulls: 0,
  });

  /** A delta read from a deltaLink (or its nextLink): upserts and `$deletedEntity` deletes. */
  async function* delta(plan: Plan, state: Extract<Checkpoint, { mode: 'delta' }>): AsyncGenerator<ChangePage> {
    let rewritten = state.check === true || !sameFields(state.fields, plan.fields);
    // New fields, a link issued for the keys only, or one stored narrower than our $select: the same
    // token with our $select (if the service ignores or refuses it, a full read follows).
    const url = rewritten ? withSelect(state.link, plan.select) : restoreSelect(state.link, plan.select);
    if (url !== state.link) rewritten = true;
    // GET <deltaLink> with Prefer: odata.track-changes: changes since the token, deletes as $deletedEntity rows.
    for await (const page of reader.pages({ url, stored: true, headers: headers(true), signal: plan.signal, what: `GET ${plan.meta.entitySet} (delta)`, primaryKey: plan.meta.primaryKey, select: plan.select })) {
      checkAbort(plan.signal);
      if (page.kind === 'link-rejected') {
        reset(plan.entity, page.error);
        yield* initialLoad(plan, 1);
        return;
      }
      const converted = convert(plan, page.rows, { checkSelect: rewritten });
      if (rewritten && converted.partial > 0) {
        reset(plan.entity, new SyncError('CHECKPOINT_INVALID', `[dynamics-adapter] The delta of ${plan.entity.name} did not return every requested field; starting a full read`));
        // Page after page: that read's own deltaLink carries every column, so this cannot repeat.
        yield* trackingSnapshot(plan, null, 1);
        return;
      }
      const rows = await fill(plan, converted);
      if (rows.rejected.some((row) => row.id === null)) {
        // A change (or delete) that cannot be tied to a record even after reading the page again:
        // moving the token past it would lose it, so a full read (and its delete reconciliation) follows.
        reset(plan.entity, new SyncError('CHECKPOINT_INVALID', `[dynamics-adapter] The delta of ${plan.entity.name} carried a row without a readable key; starting a full read so no change or delete is lost`));
        yield* trackingSnapshot(plan, null, 1);
        return;
      }
      // Until a row shows our $select was honoured, the next link is checked too.
      if (rows.upserts.length > 0) rewritten = false;
      const link = page.nextLink ?? page.deltaLink;
      if (!link) {
        throw new SyncError('CRM_RESPONSE_INVALID', `[dynamics-adapter] A delta page of ${plan.entity.name} has neither @odata.nextLink nor @odata.deltaLink`);
      }
      yield pageOf(rows, { v: 1, entity: plan.entity.name, mode: 'delta', link, fields: plan.fields, ...(rewritten ? { check: true as const } : {}) }, null);
    }
  }

  /**
   * Tables without change tracking: ordered by modifiedon, then the primary key. Incremental reads
   * start `overlap` before the watermark and drop rows already seen at the same version (ties on
   * the one-second timestamps are common). Every Nth read is a full read whose completion lets
   * core find deletes.
   */
  async function* watermarkRead(plan: Plan, initial: WatermarkCheckpoint, restarts: number): AsyncGenerator<ChangePage> {
    const state: WatermarkCheckpoint = { ...initial, fields: plan.fields, recent: [...initial.recent] };
    if (!plan.meta.hasModifiedOn) {
      throw new SyncError('CRM_REQUEST_REJECTED', `[dynamics-adapter] ${plan.entity.name} has neither change tracking nor modifiedon: it cannot be pulled incrementally`);
    }
    if (state.next !== null && !sameFields(initial.fields, plan.fields)) state.next = null;
    const full = state.snapshot !== null || state.modifiedon === null || (options.reconcileEvery > 0 && state.pulls >= options.reconcileEvery);
    if (full) state.snapshot ??= randomUUID();
    const lowerBound = state.modifiedon === null ? null : dateTimeLiteral(Date.parse(state.modifiedon) - options.watermarkOverlapMs);
    const url =
      (state.next === null ? null : restoreSelect(state.next, plan.select)) ??
      collectionUrl(http.root, plan.meta.entitySet, {
        select: plan.select,
        orderby: ['modifiedon asc', `${plan.meta.primaryKey} asc`],
        ...(full || lowerBound === null ? {} : { filter: `modifiedon ge ${lowerBound}` }),
      });
    const seen = new Set(state.recent.map(([id, version]) => `${id}|${version}`));
    // GET /api/data/v9.2/<set>?$select=...&$filter=modifiedon ge <watermark - overlap>&$orderby=modifiedon asc,<key> asc
    for await (const page of reader.pages({ url, stored: state.next !== null, headers: headers(false), signal: plan.signal, what: `GET ${plan.meta.entitySet}`, primaryKey: plan.meta.primaryKey, select: plan.select })) {
      checkAbort(plan.signal);
      if (page.kind === 'link-rejected') {
        if (restarts > 0) throw page.error;
        reset(plan.entity, page.error);
        // A full read starts over as a new snapshot: rows only the abandoned one saw must not count as seen.
        yield* watermarkRead(plan, { ...state, next: null, snapshot: state.snapshot === null ? null : randomUUID() }, restarts + 1);
        return;
      }
      const rows = await fill(plan, convert(plan, page.rows, { stamps: true }));
      if (!full) rows.upserts = rows.upserts.filter((r) => !seen.has(`${r.id}|${r.version}`));
      advance(state, rows);
      const last = page.nextLink === null;
      state.next = page.nextLink;
      const snapshot = full ? { id: state.snapshot!, complete: last } : null;
      if (last) {
        state.pulls = full ? 0 : state.pulls + 1;
        state.snapshot = null;
      }
      yield pageOf(rows, { ...state, recent: [...state.recent] }, snapshot);
    }
  }

  /** Moves the watermark to the newest row and keeps the rows inside the overlap window. */
  const advance = (state: WatermarkCheckpoint, rows: Converted): void => {
    let top = state.modifiedon === null ? -Infinity : Date.parse(state.modifiedon);
    const recent = new Map(state.recent.map((entry) => [entry[0], entry]));
    for (const stamp of rows.stamps) {
      const time = Date.parse(stamp.modifiedOn);
      if (time > top) top = time;
      if (stamp.record) recent.set(stamp.id, [stamp.id, stamp.version, stamp.modifiedOn]);
    }
    if (top === -Infinity) return;
    const floor = top - options.watermarkOverlapMs;
    state.modifiedon = dateTimeLiteral(top);
    state.recent = [...recent.values()].filter(([, , at]) => Date.parse(at) >= floor);
  };

  /**
   * Before the first rows are handed out: every column the plan reads must still be readable (field
   * security and access confirmed since the entity was described), else a column secured since
   * would read as null. Pages without rows need no check, so a quiet cycle sends nothing more.
   */
  const accessGuard = (plan: Plan) => {
    let confirmed = false;
    return async (rows: number): Promise<void> => {
      if (confirmed || rows === 0) return;
      const fresh = await metadata.confirmAccess(plan.entity, plan.signal);
      confirmed = true;
      const lost = plan.spec.fields.filter((a) => a.canRead && !fresh.attributes.get(a.logicalName)?.canRead).map((a) => a.logicalName);
      if (lost.length > 0) {
        throw new SyncError(
          'CRM_SCHEMA_CHANGED',
          `[dynamics-adapter] The sync user can no longer read ${lost.join(', ')} of ${plan.entity.name} (field security changed since it was planned)`,
          { details: { entity: plan.entity.name, fields: lost } },
        );
      }
    };
  };

  /** A 400 to a request built from a cached definition may mean a column is gone: read it again next time. */
  const forgetOnRejection = (entity: EntityDefinition, error: unknown): void => {
    if (isSyncError(error, 'CRM_REQUEST_REJECTED') && error.details.status === 400) metadata.forget(entity);
  };

  async function* pullChanges(entity: EntityDefinition, request: PullRequest): AsyncGenerator<ChangePage> {
    const plan = await makePlan(entity, request.fields, request.signal);
    const guard = accessGuard(plan);
    try {
      for await (const page of changes(plan, request)) {
        await guard(page.upserts.length);
        yield page;
      }
    } catch (error) {
      forgetOnRejection(entity, error);
      throw error;
    }
  }

  async function* changes(plan: Plan, request: PullRequest): AsyncGenerator<ChangePage> {
    const { entity } = plan;
    let state: Checkpoint | null = null;
    if (request.checkpoint !== null) {
      try {
        state = decodeCheckpoint(request.checkpoint, entity.name);
      } catch (error) {
        if (!isSyncError(error, 'CHECKPOINT_INVALID')) throw error;
        reset(entity, error);
      }
    }
    const stored = state === null || state.mode === 'watermark' ? null : state.mode === 'delta' ? state.link : state.mode === 'tracking-ranges' ? state.from : state.next;
    if (stored !== null && !http.resolve(stored)) {
      reset(entity, new SyncError('CHECKPOINT_INVALID', `[dynamics-adapter] Checkpoint of ${entity.name} points outside the environment; starting a full read`));
      state = null;
    }
    if (plan.meta.changeTracking) {
      // A watermark checkpoint on a table that now tracks changes: one snapshot switches it over.
      if (state?.mode === 'delta') yield* delta(plan, state);
      else if (state?.mode === 'tracking-snapshot' && sameFields(state.fields, plan.fields)) yield* trackingSnapshot(plan, state, 0);
      // A parallel load resumes in parallel whatever the option says now: its checkpoint is only meaningful there.
      else if (state?.mode === 'tracking-ranges' && sameFields(state.fields, plan.fields)) yield* ranges.load(plan, state, 0);
      else yield* initialLoad(plan, 0);
      return;
    }
    yield* watermarkRead(plan, state?.mode === 'watermark' ? state : freshWatermark(plan), 0);
  }

  /** Every row's current values of `fields`, in primary-key order, with no checkpoint (Quick Sync). */
  async function* readAll(entity: EntityDefinition, request: { fields: readonly string[]; signal?: AbortSignal }) {
    const plan = await makePlan(entity, request.fields, request.signal);
    const guard = accessGuard(plan);
    const url = collectionUrl(http.root, plan.meta.entitySet, { select: plan.select });
    // GET /api/data/v9.2/<set>?$select=<key>,<fields> (then each @odata.nextLink).
    for await (const page of reader.pages({ url, stored: false, headers: headers(false), signal: plan.signal, what: `GET ${plan.meta.entitySet}`, primaryKey: plan.meta.primaryKey, select: plan.select })) {
      checkAbort(plan.signal);
      if (page.kind === 'link-rejected') {
        throw new SyncError('CRM_REQUEST_REJECTED', `[dynamics-adapter] Reading all ${plan.entity.name} rows failed: the service refused its own nextLink`, {
          cause: page.error,
        });
      }
      await guard(page.rows.length);
      const { upserts, rejected } = await fill(plan, convert(plan, page.rows));
      yield { rows: upserts, rejected };
    }
  }

  /** Raw rows of the given ids (lower case), `IDS_PER_READ` a request. */
  async function* rowsById(plan: Plan, ids: readonly string[]): AsyncGenerator<unknown[]> {
    const pk = plan.meta.primaryKey;
    for (let start = 0; start < ids.length; start += IDS_PER_READ) {
      const chunk = ids.slice(start, start + IDS_PER_READ);
      // GET <set>?$select=...&$filter=<key> eq <id> or <key> eq <id> ...
      const url = collectionUrl(http.root, plan.meta.entitySet, { select: plan.select, filter: chunk.map((id) => `${pk} eq ${guid(id)}`).join(' or ') });
      for await (const page of reader.pages({ url, stored: false, headers: headers(false), signal: plan.signal, what: `GET ${plan.meta.entitySet} (by id)`, primaryKey: pk, select: plan.select })) {
        checkAbort(plan.signal);
        if (page.kind === 'link-rejected') throw page.error;
        yield page.rows;
      }
    }
  }

  /**
   * Rows that came without some of their columns (a link narrower than asked for), read again by
   * id before the page is handed out: found whole, they are upserts; a row gone since is dropped
   * (its delete comes in a later read); one still lacking a column stays rejected, never null.
   */
  const fill = async (plan: Plan, rows: Converted): Promise<Converted> => {
    if (rows.incomplete.length === 0) return rows;
    const again = new Map<string, CrmRecord>();
    const seen = new Set<string>();
    for await (const raw of rowsById(plan, rows.incomplete)) {
      const converted = convert(plan, raw);
      for (const record of converted.upserts) again.set(record.id, record);
      for (const row of converted.rejected) if (row.id) seen.add(row.id);
    }
    const incomplete = new Set(rows.incomplete);
    const gone = (id: string) => !again.has(id) && !seen.has(id);
    return {
      ...rows,
      upserts: [...rows.upserts, ...rows.incomplete.filter((id) => again.has(id)).map((id) => again.get(id)!)],
      rejected: rows.rejected.filter((row) => row.id === null || !incomplete.has(row.id) || !(again.has(row.id) || gone(row.id))),
      incomplete: [],
    };
  };

  /** Current values of some rows (core re-reads rows a pull had to quarantine). */
  async function readRecords(entity: EntityDefinition, request: { ids: readonly string[]; fields: readonly string[]; signal?: AbortSignal }) {
    const plan = await makePlan(entity, request.fields, request.signal);
    const guard = accessGuard(plan);
    const pk = plan.meta.primaryKey;
    const ids = [...new Set(request.ids.map((id) => id.toLowerCase()))].filter(isGuid);
    const rows: CrmRecord[] = [];
    const rejected: RejectedRow[] = [];
    const found = new Set<string>();
    for await (const page of rowsById(plan, ids)) {
      await guard(page.length);
      const converted = convert(plan, page);
      rows.push(...converted.upserts);
      rejected.push(...converted.rejected);
      for (const row of page) {
        const key = (row as Record<string, unknown> | null)?.[pk];
        if (typeof key === 'string') found.add(key.toLowerCase());
      }
    }
    return { rows, rejected, missing: request.ids.filter((id) => !found.has(id.toLowerCase())) };
  }

  return { pullChanges, readAll, readRecords };
}

/** Keys per `<key> eq … or …` request: about 6 KB of URL, far below the 32 KB limit. */
const IDS_PER_READ = 100;
