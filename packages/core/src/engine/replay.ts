import type { ActivityInput, QuarantineEntry, RecordWrite } from '../contracts/store.js';
import { SyncError } from '../errors.js';
import type { EngineContext, EntityPlan } from './context.js';
import { commitWithRetry } from './context.js';
import type { CycleDeps } from './cycle.js';
import { pushOutbox } from './push.js';
import { applyRows } from './retry.js';

/** Which open quarantine entries to retry: every criterion given must match (none given: all). */
export interface ReplayFilter {
  /** Entries by `seq`. */
  seqs?: readonly number[];
  entity?: string;
  /** Entries whose reason contains this text (case-insensitive). */
  reason?: string;
  /** Entries quarantined at or after this time (ISO-8601). */
  since?: string;
  /** Entries quarantined before this time (ISO-8601). */
  until?: string;
}

/** What became of one entry: `applied` (resolved), `failed` (still open, `reason` is why now) or `skipped` (not retried, why). */
export interface ReplayOutcome {
  seq: number;
  entity: string;
  recordId: string | null;
  direction: 'pull' | 'push';
  outcome: 'applied' | 'failed' | 'skipped';
  reason: string | null;
}

export interface ReplayReport {
  at: string;
  /** Open entries that matched; at most 1,000 are retried per replay (`more`: replay again for the rest). */
  matched: number;
  applied: number;
  failed: number;
  skipped: number;
  more: boolean;
  entries: ReplayOutcome[];
}

const MAX_ENTRIES = 1_000;

async function openEntries(ctx: EngineContext, filter: ReplayFilter): Promise<{ entries: QuarantineEntry[]; matched: number }> {
  const seqs = filter.seqs ? new Set(filter.seqs) : null;
  const reason = filter.reason?.toLowerCase();
  const since = filter.since ? Date.parse(filter.since) : null;
  const until = filter.until ? Date.parse(filter.until) : null;
  const entries: QuarantineEntry[] = [];
  let matched = 0;
  for (let after: string | number | undefined; ; ) {
    const page = await ctx.store.listQuarantine({ limit: 500, ...(filter.entity ? { entity: filter.entity } : {}), ...(after !== undefined ? { after } : {}) });
    for (const q of page.items) {
      const at = Date.parse(q.at);
      if (seqs && !seqs.has(q.seq)) continue;
      if (reason !== undefined && !q.reason.toLowerCase().includes(reason)) continue;
      if ((since !== null && at < since) || (until !== null && at >= until)) continue;
      matched += 1;
      if (entries.length < MAX_ENTRIES) entries.push(q);
    }
    if (page.next === null) return { entries, matched };
    after = page.next;
  }
}

/** Re-reads the rows of pull entries and applies those that now read fine; the others say why they stay open. */
async function replayPulls(ctx: EngineContext, ep: EntityPlan, entries: QuarantineEntry[], why: Map<number, string>): Promise<void> {
  const read = ctx.adapter.readRecords?.bind(ctx.adapter);
  const ids = [...new Set(entries.map((q) => q.recordId).filter((id): id is string => id !== null))];
  if (!read || ids.length === 0) return;
  // An entry names the local record when there is one, whose CRM id may differ (a person created by a CRM that chose the id).
  const crmIdOf = new Map(ids.map((id) => [id, id]));
  for (const r of await ctx.store.getRecords(ep.entity.name, ids)) if (r.crmId !== null) crmIdOf.set(r.id, r.crmId);
  const result = await read(ep.entity, { ids: [...new Set(crmIdOf.values())], fields: ep.pullFields });
  const reasons = new Map<string, string>();
  for (const r of result.rejected) if (r.id !== null) reasons.set(r.id, r.reason);
  for (const id of result.missing) reasons.set(id, 'the row is no longer in the CRM, or hidden from the sync user');
  for (const q of entries) {
    const reason = q.recordId === null ? undefined : reasons.get(crmIdOf.get(q.recordId) ?? q.recordId);
    if (reason !== undefined) why.set(q.seq, reason);
  }
  await applyRows(ctx, ep, result.rows);
}

/**
 * Puts the fields of refused pushes back in the outbox (a refused create marked for sync again) and
 * pushes those records alone. Entries of records that are gone or deleted in the CRM are skipped, with why.
 */
async function replayPushes(ctx: EngineContext, ep: EntityPlan, entries: QuarantineEntry[], skipped: Map<number, string>): Promise<void> {
  const ids = [...new Set(entries.map((q) => q.recordId).filter((id): id is string => id !== null))];
  if (ids.length === 0) return;
  const found = new Map((await ctx.store.getRecords(ep.entity.name, ids)).map((r) => [r.id, r]));
  for (const q of entries) {
    const record = q.recordId === null ? undefined : found.get(q.recordId);
    if (!record) skipped.set(q.seq, 'the record is no longer in the store');
    else if (record.crmDeleted) skipped.set(q.seq, 'the record was deleted in the CRM (R12): there is nothing to push to');
  }
  await commitWithRetry(ctx, async () => {
    const records: RecordWrite[] = [];
    for (const record of await ctx.store.getRecords(ep.entity.name, ids)) {
      if (record.crmDeleted) continue;
      const sent = entries.filter((q) => q.recordId === record.id).flatMap((q) => Object.keys(isObject(q.payload) ? q.payload : {}));
      const pending = [...new Set([...record.pending, ...sent.filter((f) => Object.hasOwn(record.fields, f))])];
      records.push({ id: record.id, expectedRevision: record.revision, pending, ...(record.crmId === null ? { syncToCrm: true } : {}) });
    }
    return { entity: ep.entity.name, records };
  });
  await pushOutbox(ctx, ep, undefined, new Set(ids));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Retries open quarantine entries on demand, once their cause is fixed: rows a pull could not apply
 * are read again and applied; refused pushes are sent again with the record's current values. An
 * entry is resolved only by the batch that applied it (never marked done otherwise); one still
 * broken stays open, and a push refused again adds an entry with the CRM's new reason. Each entry's
 * outcome is logged as a `replay` activity of its record.
 */
export async function replayQuarantine(deps: CycleDeps, filter: ReplayFilter): Promise<ReplayReport> {
  const { ctx } = deps;
  const at = ctx.now().toISOString();
  const { entries, matched } = await openEntries(ctx, filter);
  // Ids that name no open entry are refused before anything is retried.
  const unknown = (filter.seqs ?? []).filter((seq) => !entries.some((q) => q.seq === seq));
  if (unknown.length > 0) {
    throw new SyncError('QUARANTINE_ENTRY_UNKNOWN', `No open quarantine entry${filter.entity ? ` of ${filter.entity}` : ''} has the id ${unknown.join(', ')}; nothing was retried`, {
      details: { seqs: unknown },
    });
  }
  /** Entries not retried, with why; and why a retried pull entry is still open. */
  const skipped = new Map<number, string>();
  const why = new Map<number, string>();
  const byEntity = new Map<string, QuarantineEntry[]>();
  for (const q of entries) byEntity.set(q.entity, [...(byEntity.get(q.entity) ?? []), q]);
  for (const [name, list] of byEntity) {
    const skip = (items: QuarantineEntry[], reason: string) => items.forEach((q) => skipped.set(q.seq, reason));
    skip(list.filter((q) => q.recordId === null), 'no record id: the row cannot be read again by id; the next change of it in the CRM brings it');
    if (!deps.registry.has(name)) {
      skip(list, `${name} is not a configured entity`);
      continue;
    }
    if (!(await deps.leases.acquire(name))) {
      skip(list, `another runner holds the lease on ${name}: replay it there`);
      continue;
    }
    const ep = await deps.plan(deps.registry.get(name), false);
    const pulls = list.filter((q) => q.direction === 'pull' && q.recordId !== null);
    if (!ctx.adapter.readRecords) skip(pulls, `the ${ctx.adapter.name} adapter cannot read rows by id`);
    else await replayPulls(ctx, ep, pulls, why);
    await replayPushes(ctx, ep, list.filter((q) => q.direction === 'push' && q.recordId !== null), skipped);
  }
  // The outcome is what the store now holds: an entry is applied only if a batch resolved it.
  const outcomes: ReplayOutcome[] = [];
  for (const [name, list] of byEntity) {
    const stored: QuarantineEntry[] = [];
    for (let after: string | number | undefined; ; ) {
      const page = await ctx.store.listQuarantine({ entity: name, includeResolved: true, limit: 500, ...(after !== undefined ? { after } : {}) });
      stored.push(...page.items);
      if (page.next === null) break;
      after = page.next;
    }
    const activities: ActivityInput[] = [];
    for (const q of list) {
      const resolved = stored.find((s) => s.seq === q.seq)?.resolvedAt != null;
      // A push refused again adds an entry with the CRM's reason of now.
      const again = stored.filter((s) => s.seq > q.seq && s.recordId === q.recordId && s.direction === q.direction && s.resolvedAt === null).at(-1);
      const outcome: ReplayOutcome['outcome'] = skipped.has(q.seq) ? 'skipped' : resolved ? 'applied' : 'failed';
      const reason = outcome === 'applied' ? null : (skipped.get(q.seq) ?? again?.reason ?? why.get(q.seq) ?? q.reason);
      outcomes.push({ seq: q.seq, entity: name, recordId: q.recordId, direction: q.direction, outcome, reason });
      const detail = `replay of quarantine entry ${q.seq} (${q.direction}): ${outcome}${reason ? `: ${reason}` : ''}`;
      activities.push({ entity: name, recordId: q.recordId ?? '*', type: 'replay', source: 'sync', detail });
    }
    await ctx.store.commit({ entity: name, activities });
  }
  const count = (o: ReplayOutcome['outcome']) => outcomes.filter((x) => x.outcome === o).length;
  return { at, matched, applied: count('applied'), failed: count('failed'), skipped: count('skipped'), more: matched > entries.length, entries: outcomes };
}
