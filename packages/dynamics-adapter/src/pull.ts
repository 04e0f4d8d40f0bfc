import { randomUUID } from 'node:crypto';
import { isSyncError, SyncError } from '@crm-sync/core';
import type { ChangePage, CrmRecord, EntityDefinition, PullRequest, RejectedRow } from '@crm-sync/core';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import type { Checkpoint, WatermarkCheckpoint } from './checkpoint.js';
import type { EventSink } from './events.js';
import { abortError } from './http.js';
import type { HttpClient } from './http.js';
import type { MetadataService } from './metadata.js';
import type { ResolvedOptions } from './options.js';
import type { createPageReader } from './pages.js';
import { parseRow } from './odata/parse.js';
import type { RowSpec } from './odata/parse.js';
import { collectionUrl, dateTimeLiteral, LOOKUP_ANNOTATION, prefer } from './odata/query.js';
import { propertyOf } from './odata/types.js';
import type { EntityMetadata } from './odata/types.js';

export interface PullContext {
  http: HttpClient;
  metadata: MetadataService;
  reader: ReturnType<typeof createPageReader>;
  options: ResolvedOptions;
  emit: EventSink;
}

/** Everything one pull needs to build URLs and read rows. */
interface Plan {
  entity: EntityDefinition;
  meta: EntityMetadata;
  spec: RowSpec;
  /** Requested fields that cannot be selected (not valid for read): always null. */
  nullFields: string[];
  select: string[];
  /** Requested fields, sorted: a checkpoint taken with other fields cannot reuse its links. */
  fields: string[];
  signal: AbortSignal | undefined;
}

interface Converted {
  upserts: CrmRecord[];
  deletes: string[];
  rejected: RejectedRow[];
  /** Rows missing a selected property (a link that did not honour our $select). */
  absent: number;
  /** modifiedon of every row read, rejected rows included (the watermark moves past them too). */
  stamps: Array<{ id: string; version: string; modifiedOn: string; record: boolean }>;
}

const sameFields = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((f, i) => f === b[i]);

function convert(plan: Plan, rows: readonly unknown[]): Converted {
  const out: Converted = { upserts: [], deletes: [], rejected: [], absent: 0, stamps: [] };
  for (const raw of rows) {
    const parsed = parseRow(raw, plan.spec);
    if (parsed.kind === 'deleted') out.deletes.push(parsed.id);
    else if (parsed.kind === 'rejected') {
      out.rejected.push(parsed.row);
      const modifiedOn = (raw as { modifiedon?: unknown } | null)?.modifiedon;
      if (parsed.row.id && typeof modifiedOn === 'string' && !Number.isNaN(Date.parse(modifiedOn))) {
        out.stamps.push({ id: parsed.row.id, version: '', modifiedOn, record: false });
      }
    } else {
      for (const field of plan.nullFields) parsed.record.fields[field] = null;
      out.upserts.push(parsed.record);
      out.absent += parsed.absent;
      if (parsed.record.modifiedOn && !Number.isNaN(Date.parse(parsed.record.modifiedOn))) {
        out.stamps.push({ id: parsed.record.id, version: parsed.record.version, modifiedOn: parsed.record.modifiedOn, record: true });
      }
    }
  }
  return out;
}

export function createPuller(context: PullContext) {
  const { http, metadata, reader, options, emit } = context;
  const pageSize = options.pageSize;

  const headers = (tracking: boolean): Record<string, string> => ({
    Prefer: prefer({ trackChanges: tracking, maxPageSize: pageSize, annotations: [LOOKUP_ANNOTATION] }),
  });

  const makePlan = async (entity: EntityDefinition, requested: readonly string[], signal: AbortSignal | undefined): Promise<Plan> => {
    const fields = [...new Set(requested)].filter((f) => f !== entity.primaryKey).sort();
    const { metadata: meta, attributes } = await metadata.resolveFields(entity, fields, signal);
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

  /** A link with our current $select in place of the one it was issued with (the delta token stays). */
  const withSelect = (link: string, select: readonly string[]): string => {
    const url = new URL(link);
    const rest = url.search
      .replace(/^\?/, '')
      .split('&')
      .filter((part) => part !== '' && !/^(\$|%24)select=/i.test(part));
    return `${url.origin}${url.pathname}?${[`$select=${select.join(',')}`, ...rest].join('&')}`;
  };

  /** The initial change-tracking read: a snapshot whose last page carries the deltaLink. */
  async function* trackingSnapshot(plan: Plan, resume: { snapshot: string; next: string } | null, restarts: number): AsyncGenerator<ChangePage> {
    const snapshot = resume?.snapshot ?? randomUUID();
    const url = resume?.next ?? collectionUrl(http.root, plan.meta.entitySet, { select: plan.select });
    // GET /api/data/v9.2/<set>?$select=... with Prefer: odata.track-changes, odata.maxpagesize=N (then each @odata.nextLink).
    for await (const page of reader.pages({ url, stored: resume !== null, headers: headers(true), signal: plan.signal, what: `GET ${plan.meta.entitySet}` })) {
      checkAbort(plan.signal);
      if (page.kind === 'link-rejected') {
        if (restarts > 0) throw page.error;
        reset(plan.entity, page.error);
        yield* trackingSnapshot(plan, null, restarts + 1);
        return;
      }
      const rows = convert(plan, page.rows);
      let checkpoint: Checkpoint;
      if (page.nextLink) {
        checkpoint = { v: 1, entity: plan.entity.name, mode: 'tracking-snapshot', snapshot, next: page.nextLink, fields: plan.fields };
      } else if (page.deltaLink) {
        checkpoint = { v: 1, entity: plan.entity.name, mode: 'delta', link: page.deltaLink, fields: plan.fields };
      } else {
        // Tracking is on but no deltaLink came: the next pull starts the watermark mode with a full read.
        checkpoint = freshWatermark(plan);
      }
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

  const pageOf = (rows: Converted, checkpoint: Checkpoint, snapshot: ChangePage['snapshot']): ChangePage => ({
    upserts: rows.upserts,
    deletes: rows.deletes,
    rejected: rows.rejected,
    checkpoint: encodeCheckpoint(checkpoint),
    snapshot,
  });

  /** A delta read from a deltaLink (or its nextLink): upserts and `$deletedEntity` deletes. */
  async function* delta(plan: Plan, state: Extract<Checkpoint, { mode: 'delta' }>): AsyncGenerator<ChangePage> {
    const rewritten = !sameFields(state.fields, plan.fields);
    // New fields: the same token with our $select (if the service ignores or refuses it, a full read follows).
    const url = rewritten ? withSelect(state.link, plan.select) : state.link;
    // GET <deltaLink> with Prefer: odata.track-changes: changes since the token, deletes as $deletedEntity rows.
    for await (const page of reader.pages({ url, stored: true, headers: headers(true), signal: plan.signal, what: `GET ${plan.meta.entitySet} (delta)` })) {
      checkAbort(plan.signal);
      if (page.kind === 'link-rejected') {
        reset(plan.entity, page.error);
        yield* trackingSnapshot(plan, null, 1);
        return;
      }
      const rows = convert(plan, page.rows);
      if (rewritten && rows.absent > 0) {
        reset(plan.entity, new SyncError('CHECKPOINT_INVALID', `[dynamics-adapter] The delta of ${plan.entity.name} did not return newly requested fields; starting a full read`));
        yield* trackingSnapshot(plan, null, 1);
        return;
      }
      const link = page.nextLink ?? page.deltaLink;
      if (!link) {
        throw new SyncError('CRM_RESPONSE_INVALID', `[dynamics-adapter] A delta page of ${plan.entity.name} has neither @odata.nextLink nor @odata.deltaLink`);
      }
      yield pageOf(rows, { v: 1, entity: plan.entity.name, mode: 'delta', link, fields: plan.fields }, null);
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
      state.next ??
      collectionUrl(http.root, plan.meta.entitySet, {
        select: plan.select,
        orderby: ['modifiedon asc', `${plan.meta.primaryKey} asc`],
        ...(full || lowerBound === null ? {} : { filter: `modifiedon ge ${lowerBound}` }),
      });
    const seen = new Set(state.recent.map(([id, version]) => `${id}|${version}`));
    // GET /api/data/v9.2/<set>?$select=...&$filter=modifiedon ge <watermark - overlap>&$orderby=modifiedon asc,<key> asc
    for await (const page of reader.pages({ url, stored: state.next !== null, headers: headers(false), signal: plan.signal, what: `GET ${plan.meta.entitySet}` })) {
      checkAbort(plan.signal);
      if (page.kind === 'link-rejected') {
        if (restarts > 0) throw page.error;
        reset(plan.entity, page.error);
        yield* watermarkRead(plan, { ...state, next: null }, restarts + 1);
        return;
      }
      const rows = convert(plan, page.rows);
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

  async function* pullChanges(entity: EntityDefinition, request: PullRequest): AsyncGenerator<ChangePage> {
    const plan = await makePlan(entity, request.fields, request.signal);
    let state: Checkpoint | null = null;
    if (request.checkpoint !== null) {
      try {
        state = decodeCheckpoint(request.checkpoint, entity.name);
      } catch (error) {
        if (!isSyncError(error, 'CHECKPOINT_INVALID')) throw error;
        reset(entity, error);
      }
    }
    if (state !== null && state.mode !== 'watermark' && !http.resolve(state.mode === 'delta' ? state.link : state.next)) {
      reset(entity, new SyncError('CHECKPOINT_INVALID', `[dynamics-adapter] Checkpoint of ${entity.name} points outside the environment; starting a full read`));
      state = null;
    }
    if (plan.meta.changeTracking) {
      // A watermark checkpoint on a table that now tracks changes: one snapshot switches it over.
      if (state?.mode === 'delta') yield* delta(plan, state);
      else if (state?.mode === 'tracking-snapshot' && sameFields(state.fields, plan.fields)) yield* trackingSnapshot(plan, state, 0);
      else yield* trackingSnapshot(plan, null, 0);
      return;
    }
    yield* watermarkRead(plan, state?.mode === 'watermark' ? state : freshWatermark(plan), 0);
  }

  /** Every row's current values of `fields`, in primary-key order, with no checkpoint (Quick Sync). */
  async function* readAll(entity: EntityDefinition, request: { fields: readonly string[]; signal?: AbortSignal }) {
    const plan = await makePlan(entity, request.fields, request.signal);
    const url = collectionUrl(http.root, plan.meta.entitySet, { select: plan.select });
    // GET /api/data/v9.2/<set>?$select=<key>,<fields> (then each @odata.nextLink).
    for await (const page of reader.pages({ url, stored: false, headers: headers(false), signal: plan.signal, what: `GET ${plan.meta.entitySet}` })) {
      checkAbort(plan.signal);
      if (page.kind === 'link-rejected') {
        throw new SyncError('CRM_REQUEST_REJECTED', `[dynamics-adapter] Reading all ${plan.entity.name} rows failed: the service refused its own nextLink`, {
          cause: page.error,
        });
      }
      const { upserts, rejected } = convert(plan, page.rows);
      yield { rows: upserts, rejected };
    }
  }

  return { pullChanges, readAll };
}
