import type { CrmWriteResult } from '../contracts/crm.js';
import type { ActivityInput, LocalRecord, QuarantineInput, RecordWrite } from '../contracts/store.js';
import { assertCanCreateInCrm } from '../rules/guards.js';
import { passesSyncFilter } from '../rules/records.js';
import type { FieldMap } from '../values.js';
import { sameValue } from '../values.js';
import type { EngineContext, EntityPlan } from './context.js';
import { commitWithRetry } from './context.js';

export interface PushCounts {
  pushed: number;
  created: number;
  collisions: number;
  quarantined: number;
}

/** What was sent for one record, to settle it against the CRM's answer. */
interface Sent {
  id: string;
  create: boolean;
  fields: FieldMap;
  result?: CrmWriteResult;
  /** Set when the record is not sent at all (refused before sending). */
  refused?: string;
}

const CHUNK = 100;

/**
 * Pushes the outbox of a two-way entity: local persons marked for sync without a CRM id are created
 * in the CRM with their local id (R14; a retried create is recognised, not duplicated), and pending
 * field changes are written with the last seen version (R2: a 412 is a collision the next pull
 * resolves). The pushed version is stored so the echo is ignored (R13). A record the CRM refuses
 * is quarantined with the CRM's reason and logged on its activity (nothing is retried forever).
 */
export async function pushOutbox(ctx: EngineContext, ep: EntityPlan, signal?: AbortSignal): Promise<PushCounts> {
  const { entity, plan } = ep;
  const counts: PushCounts = { pushed: 0, created: 0, collisions: 0, quarantined: 0 };
  if (entity.direction !== 'both') return counts;
  const pushable = new Set(plan.pushable);
  let after: string | number | undefined;
  for (;;) {
    if (signal?.aborted) return counts;
    const page = await ctx.store.listOutbox(entity.name, { limit: 500, ...(after !== undefined ? { after } : {}) });
    const sent: Sent[] = [];
    for (const record of page.items) {
      if (!passesSyncFilter(entity, record.fields)) continue; // R11: a filtered record is not synced
      if (record.crmDeleted || (record.crmId === null && !record.syncToCrm)) {
        // Deleted in the CRM, or a local person not (or no longer) marked for sync: nothing to push to.
        sent.push({ id: record.id, create: false, fields: {}, refused: '' });
      } else if (record.crmId === null) {
        const fields: FieldMap = {};
        for (const f of plan.pushable) if (record.fields[f] !== undefined && record.fields[f] !== null) fields[f] = record.fields[f];
        const refused = entity.name === 'lead' ? undefined : `a local ${entity.name} cannot be created in the CRM; persons are created as leads`;
        sent.push({ id: record.id, create: true, fields, ...(refused ? { refused } : {}) });
      } else {
        const fields: FieldMap = {};
        const lost = record.pending.filter((f) => !pushable.has(f));
        for (const f of record.pending) if (pushable.has(f)) fields[f] = record.fields[f] ?? null;
        const refused = lost.length > 0 ? `the sync user can no longer update ${lost.join(', ')}` : undefined;
        sent.push({ id: record.id, create: false, fields, ...(refused ? { refused } : {}) });
      }
    }
    const byId = new Map(page.items.map((r) => [r.id, r]));
    const creates = sent.filter((s) => s.create && s.refused === undefined);
    const updates = sent.filter((s) => !s.create && s.refused === undefined && Object.keys(s.fields).length > 0);
    if (creates.length > 0) assertCanCreateInCrm(entity);
    for (let i = 0; i < creates.length; i += CHUNK) {
      const chunk = creates.slice(i, i + CHUNK);
      const results = await ctx.adapter.createRecords(entity, chunk.map((s) => ({ id: s.id, fields: s.fields })));
      chunk.forEach((s, j) => (s.result = results[j]));
    }
    for (let i = 0; i < updates.length; i += CHUNK) {
      const chunk = updates.slice(i, i + CHUNK);
      const results = await ctx.adapter.updateRecords(
        entity,
        chunk.map((s) => ({ id: byId.get(s.id)?.crmId as string, ifVersion: byId.get(s.id)?.crmVersion ?? null, fields: s.fields })),
      );
      chunk.forEach((s, j) => (s.result = results[j]));
    }
    const settled = sent.filter((s) => s.result !== undefined || s.refused !== undefined);
    if (settled.length > 0) await settle(ctx, entity.name, entity.kind === 'person', settled, counts, plan.pushable);
    ctx.emit({ type: 'pushed', entity: entity.name, pushed: counts.pushed, created: counts.created, failed: counts.quarantined });
    if (page.next === null) return counts;
    after = page.next;
  }
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
    // Fields changed again locally since they were sent stay pending.
    const unsent = (record: LocalRecord, s: Sent) => record.pending.filter((f) => !(Object.hasOwn(s.fields, f) && sameValue(record.fields[f], s.fields[f])));
    const fail = (record: LocalRecord, s: Sent, reason: string) => {
      tally.quarantined += 1;
      quarantine.push({ entity, recordId: record.id, direction: 'push', reason, payload: s.fields });
      if (person) activities.push({ entity, recordId: record.id, type: 'sync-failed', source: 'sync', detail: reason });
      // Refused by the CRM: what was sent is quarantined, edits made since (or not sent) stay pending.
      const pending = s.result !== undefined ? unsent(record, s) : [];
      records.push({ id: record.id, expectedRevision: record.revision, pending, ...(s.create ? { syncToCrm: false } : {}) });
    };
    for (const s of sent) {
      const record = fresh.get(s.id);
      if (!record) continue;
      if (s.refused === '') {
        records.push({ id: record.id, expectedRevision: record.revision, pending: [] }); // deleted in the CRM: nothing to push to
        continue;
      }
      if (s.refused !== undefined) {
        fail(record, s, s.refused);
        continue;
      }
      const result = s.result as CrmWriteResult;
      if (result.ok || result.kind === 'exists') {
        if (result.ok) {
          records.push({
            id: record.id, expectedRevision: record.revision, pending: unsent(record, s), base: s.create ? createdBase(s.fields) : s.fields,
            crmVersion: result.version, ...(s.create ? { crmId: s.id } : {}),
          });
        } else {
          // Created by an earlier attempt, whose values the CRM holds, not necessarily these: they
          // stay pending against a base of nothing agreed, so the next pull keeps the local ones
          // where they differ (a collision the marketing side wins for leads) and they are pushed.
          const pending = [...new Set([...record.pending, ...Object.keys(s.fields)])];
          records.push({ id: record.id, expectedRevision: record.revision, pending, base: createdBase({}), crmVersion: null, crmId: s.id });
        }
        resolveQuarantine.push(record.id);
        if (s.create) {
          tally.created += 1;
          activities.push({ entity, recordId: record.id, type: 'crm-created', source: 'sync', detail: `created in the CRM as ${entity} ${s.id}` });
        } else tally.pushed += 1;
      } else if (result.kind === 'collision') {
        tally.collisions += 1; // stays pending; the next pull merges the CRM's change (R2) and the push retries
      } else if (result.kind === 'not-found') {
        records.push({ id: record.id, expectedRevision: record.revision, pending: [], crmDeleted: true });
        activities.push({ entity, recordId: record.id, type: 'crm-deleted', source: 'crm', detail: 'not found in the CRM on push' });
      } else {
        fail(record, s, result.message);
      }
    }
    return { entity, records, activities, quarantine, resolveQuarantine };
  });
  counts.pushed += tally.pushed;
  counts.created += tally.created;
  counts.collisions += tally.collisions;
  counts.quarantined += tally.quarantined;
}
