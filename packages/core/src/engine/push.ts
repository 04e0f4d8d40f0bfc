import type { CrmWriteResult } from '../contracts/crm.js';
import type { ActivityInput, FieldHistoryInput, LocalRecord, QuarantineInput, RecordWrite } from '../contracts/store.js';
import { syncsBothWays } from '../rules/direction.js';
import { assertCanCreateInCrm, pushableSubset } from '../rules/guards.js';
import { pushHistory } from '../rules/history.js';
import { pushAction } from '../rules/persons.js';
import { crmDeletion, passesSyncFilter } from '../rules/records.js';
import type { FieldMap } from '../values.js';
import { sameValue } from '../values.js';
import type { EngineContext, EntityPlan } from './context.js';
import { commitWithRetry } from './context.js';

export interface PushCounts {
  pushed: number;
  created: number;
  collisions: number;
  quarantined: number;
  /** A stop (the cycle's signal) came while records were left in the outbox: they wait for the next cycle. */
  stopped?: boolean;
}

/** What was sent for one record, to settle it against the CRM's answer. */
interface Sent {
  id: string;
  create: boolean;
  fields: FieldMap;
  result?: CrmWriteResult;
  /** Set when the record is not sent at all (refused before sending). */
  refused?: string;
  /** Pending fields the sync user can no longer update, each set with why: quarantined, the others are sent. */
  dropped?: Array<{ fields: FieldMap; reason: string }>;
}

/**
 * Writes handed to the adapter per call: a batching adapter sends them in one round trip; one that
 * writes row by row gets one at a time, so a stop is honoured between two writes.
 */
const chunkSize = (ctx: EngineContext): number => {
  const { batchWrites, writesPerCall } = ctx.adapter.capabilities;
  if (!batchWrites) return 1;
  return writesPerCall !== undefined && Number.isInteger(writesPerCall) && writesPerCall > 0 ? writesPerCall : 100;
};

/** Why a create whose answer never came is not sent again by an adapter that cannot create with the caller's id. */
const unknownCreate = (error: unknown): string =>
  `the create's outcome is unknown (${error instanceof Error ? error.message : String(error)}); this CRM adapter cannot create with the caller's id, so sending it again could create a duplicate: check the CRM for the record, then retry it`;

/**
 * Pushes the outbox of a two-way entity: local persons marked for sync without a CRM id are created
 * in the CRM with their local id (R14; a retried create is recognised, not duplicated), and pending
 * field changes are written with the last seen version (R2: a 412 is a collision the next pull
 * resolves). The pushed version is stored so the echo is ignored (R13). A record the CRM refuses
 * is quarantined with the CRM's reason and logged on its activity (nothing is retried forever). A
 * pending field the sync user can no longer update is quarantined on its own and the record's other
 * changes are still pushed: held back when the plan already knows, sent again without it when the
 * adapter refuses it. With `only`, just those records of the outbox are pushed (a replay).
 */
export async function pushOutbox(ctx: EngineContext, ep: EntityPlan, signal?: AbortSignal, only?: ReadonlySet<string>): Promise<PushCounts> {
  const { entity, plan } = ep;
  const counts: PushCounts = { pushed: 0, created: 0, collisions: 0, quarantined: 0 };
  if (!syncsBothWays(entity)) return counts; // R1
  let after: string | number | undefined;
  for (;;) {
    const page = await ctx.store.listOutbox(entity.name, { limit: 500, ...(after !== undefined ? { after } : {}) });
    // A stop sends nothing more; the push is unfinished only if something was left to send.
    if (signal?.aborted) return page.items.length > 0 ? { ...counts, stopped: true } : counts;
    const sent: Sent[] = [];
    for (const record of page.items) {
      if (only && !only.has(record.id)) continue; // a replay pushes the records it names alone
      if (!passesSyncFilter(entity, record.fields)) continue; // R11: a filtered record is not synced
      const action = pushAction(entity, record); // R14
      if (action.kind === 'none') {
        // Deleted in the CRM, or a local person not (or no longer) marked for sync: nothing to push to.
        sent.push({ id: record.id, create: false, fields: {}, refused: '' });
      } else if (action.kind !== 'update') {
        // R8: a create sends the values the sync user may write, never a local-only field.
        const values: FieldMap = {};
        for (const [f, v] of Object.entries(record.fields)) if (v !== undefined && v !== null) values[f] = v;
        const fields = pushableSubset(values, plan);
        sent.push({ id: record.id, create: true, fields, ...(action.kind === 'refused' ? { refused: action.reason } : {}) });
      } else {
        const changed: FieldMap = {};
        for (const f of record.pending) changed[f] = record.fields[f] ?? null;
        // R8, R6: what the sync user can no longer update is held back (quarantined), the rest is sent.
        const fields = pushableSubset(changed, plan);
        const lost: FieldMap = {};
        for (const f of record.pending) if (!Object.hasOwn(fields, f)) lost[f] = changed[f] ?? null;
        const names = Object.keys(lost);
        const dropped = names.length > 0 ? [{ fields: lost, reason: `the sync user can no longer update ${names.join(', ')}` }] : undefined;
        sent.push({ id: record.id, create: false, fields, ...(dropped ? { dropped } : {}) });
      }
    }
    const byId = new Map(page.items.map((r) => [r.id, r]));
    const creates = sent.filter((s) => s.create && s.refused === undefined);
    const updates = sent.filter((s) => !s.create && s.refused === undefined && Object.keys(s.fields).length > 0);
    if (creates.length > 0) assertCanCreateInCrm(entity);
    const chunk = chunkSize(ctx);
    // A create that throws has an unknown outcome. With the caller's id a retry is recognised (R14),
    // so the record stays in the outbox; without it, it is quarantined for a person instead.
    let failure: { error: unknown } | undefined;
    await sendInChunks(creates, chunk, signal, async (items) => {
      try {
        return await ctx.adapter.createRecords(entity, items.map((s) => ({ id: s.id, fields: s.fields })));
      } catch (error) {
        if (ctx.adapter.capabilities.createWithClientId) throw error;
        for (const s of items) s.refused = unknownCreate(error);
        failure ??= { error };
        return null;
      }
    });
    // Updates the adapter refused for some fields alone (access lost since the plan was made) are
    // sent again at once without them; each round drops at least one field, so this ends.
    for (let round = failure ? [] : updates; round.length > 0; round = round.filter(withoutRefusedFields)) {
      await sendInChunks(round, chunk, signal, (items) =>
        ctx.adapter.updateRecords(entity, items.map((s) => ({ id: byId.get(s.id)?.crmId as string, ifVersion: byId.get(s.id)?.crmVersion ?? null, fields: s.fields }))),
      );
    }
    const settled = sent.filter((s) => s.result !== undefined || s.refused !== undefined || s.dropped !== undefined);
    if (settled.length > 0) await settle(ctx, entity.name, entity.kind === 'person', settled, counts, plan.pushable);
    ctx.emit({ type: 'pushed', entity: entity.name, pushed: counts.pushed, created: counts.created, failed: counts.quarantined });
    if (failure) throw failure.error;
    // Stopped between two writes: what was not sent stays in the outbox for the next cycle.
    if (signal?.aborted && sent.some((s) => s.result === undefined && s.refused === undefined && (s.create || Object.keys(s.fields).length > 0))) {
      return { ...counts, stopped: true };
    }
    if (page.next === null) return counts;
    after = page.next;
  }
}

/**
 * Sends `items` `size` at a time and keeps each one's result on it (none when `send` gives null);
 * stops between two calls when the signal fires.
 */
async function sendInChunks(items: Sent[], size: number, signal: AbortSignal | undefined, send: (chunk: Sent[]) => Promise<CrmWriteResult[] | null>): Promise<void> {
  for (let i = 0; i < items.length && !(i > 0 && signal?.aborted); i += size) {
    const chunk = items.slice(i, i + size);
    const results = await send(chunk);
    if (results) chunk.forEach((s, j) => (s.result = results[j]));
  }
}

/**
 * When an update was refused for some of its fields alone, moves them to `dropped` and clears the
 * result, so the rest is sent again: true then. A refusal of every field stays a refusal of the record.
 */
function withoutRefusedFields(s: Sent): boolean {
  const result = s.result;
  if (!result || result.ok || result.kind !== 'rejected' || !result.fields) return false;
  const refused = result.fields.filter((f) => Object.hasOwn(s.fields, f));
  if (refused.length === 0 || refused.length === Object.keys(s.fields).length) return false;
  const fields: FieldMap = {};
  for (const f of refused) {
    fields[f] = s.fields[f] ?? null;
    delete s.fields[f];
  }
  (s.dropped ??= []).push({ fields, reason: result.message });
  delete s.result;
  return true;
}

async function settle(ctx: EngineContext, entity: string, person: boolean, sent: Sent[], counts: PushCounts, pushable: readonly string[]): Promise<void> {
  // What the CRM holds after a create: the values sent, null for every other field it could have
  // been sent (a field with no agreed value yet would take the CRM's on the next pull, R2).
  const createdBase = (fields: FieldMap): FieldMap => {
    const base: FieldMap = {};
    for (const f of pushable) base[f] = null;
    return Object.assign(base, fields);
  };
  const tally: PushCounts = { pushed: 0, created: 0, collisions: 0, quarantined: 0 };
  await commitWithRetry(ctx, async () => {
    Object.assign(tally, { pushed: 0, created: 0, collisions: 0, quarantined: 0 });
    const fresh = new Map((await ctx.store.getRecords(entity, sent.map((s) => s.id))).map((r) => [r.id, r]));
    const records: RecordWrite[] = [];
    const activities: ActivityInput[] = [];
    const quarantine: QuarantineInput[] = [];
    const resolveQuarantine: string[] = [];
    const history: FieldHistoryInput[] = [];
    // Pending fields stay pending unless settled: sent (or quarantined) with the value they still hold.
    const pendingAfter = (record: LocalRecord, ...settledSets: FieldMap[]) =>
      record.pending.filter((f) => !settledSets.some((set) => Object.hasOwn(set, f) && sameValue(record.fields[f], set[f])));
    const quarantineFields = (record: LocalRecord, fields: FieldMap, reason: string) => {
      tally.quarantined += 1;
      quarantine.push({ entity, recordId: record.id, direction: 'push', reason, payload: fields });
      if (person) activities.push({ entity, recordId: record.id, type: 'sync-failed', source: 'sync', detail: reason });
    };
    const fail = (record: LocalRecord, s: Sent, reason: string, dropped: FieldMap) => {
      quarantineFields(record, s.fields, reason);
      // Refused by the CRM: what was sent is quarantined, edits made since (or not sent) stay pending.
      const pending = s.result !== undefined ? pendingAfter(record, s.fields, dropped) : [];
      records.push({ id: record.id, expectedRevision: record.revision, pending, ...(s.create ? { syncToCrm: false } : {}) });
    };
    for (const s of sent) {
      const record = fresh.get(s.id);
      if (!record) continue;
      if (s.refused === '') {
        records.push({ id: record.id, expectedRevision: record.revision, pending: [] }); // deleted in the CRM: nothing to push to
        continue;
      }
      const result = s.result;
      // Fields the sync user can no longer update are quarantined whatever became of the others
      // (unless the row is gone), and leave the outbox: they are never sent.
      const dropped: FieldMap = Object.assign({}, ...(s.dropped ?? []).map((d) => d.fields));
      const gone = result !== undefined && !result.ok && result.kind === 'not-found';
      if (!gone) for (const d of s.dropped ?? []) quarantineFields(record, d.fields, d.reason);
      if (s.refused !== undefined) {
        fail(record, s, s.refused, dropped);
        continue;
      }
      if (result === undefined) {
        records.push({ id: record.id, expectedRevision: record.revision, pending: pendingAfter(record, dropped) }); // nothing else was pending
        continue;
      }
      if (result.ok || result.kind === 'exists') {
        if (result.ok) {
          records.push({
            id: record.id, expectedRevision: record.revision, pending: pendingAfter(record, s.fields, dropped), base: s.create ? createdBase(s.fields) : s.fields,
            crmVersion: result.version, ...(s.create ? { crmId: result.id } : {}),
          });
          // Values edited again since they were sent are not what the CRM got: only those still held.
          const still = Object.fromEntries(Object.entries(s.fields).filter(([f, v]) => sameValue(record.fields[f], v)));
          history.push(...pushHistory(entity, record.id, still, s.create));
        } else {
          // Created by an earlier attempt, whose values the CRM holds, not necessarily these: they
          // stay pending against a base of nothing agreed, so the next pull keeps the local ones
          // where they differ (a collision the marketing side wins for leads) and they are pushed.
          const pending = [...new Set([...record.pending, ...Object.keys(s.fields)])];
          records.push({ id: record.id, expectedRevision: record.revision, pending, base: createdBase({}), crmVersion: null, crmId: s.id });
        }
        // Closes the record's earlier entries; those this batch adds (dropped fields) stay open.
        resolveQuarantine.push(record.id);
        if (s.create) {
          tally.created += 1;
          activities.push({ entity, recordId: record.id, type: 'crm-created', source: 'sync', detail: `created in the CRM as ${entity} ${result.id}` });
        } else tally.pushed += 1;
      } else if (result.kind === 'collision') {
        tally.collisions += 1; // stays pending; the next pull merges the CRM's change (R2) and the push retries
        if (s.dropped) records.push({ id: record.id, expectedRevision: record.revision, pending: pendingAfter(record, dropped) });
      } else if (result.kind === 'not-found') {
        const deletion = crmDeletion(entity, record, 'not found in the CRM on push');
        records.push(deletion.write);
        activities.push(deletion.activity);
      } else {
        fail(record, s, result.message, dropped);
      }
    }
    // A push that went through closes earlier refused pushes, not rows a pull could not apply.
    return { entity, records, activities, quarantine, resolveQuarantine, resolveDirection: 'push' as const, ...(history.length > 0 ? { history } : {}) };
  });
  counts.pushed += tally.pushed;
  counts.created += tally.created;
  counts.collisions += tally.collisions;
  counts.quarantined += tally.quarantined;
}
