import type { ChangePage, CrmRecord } from '../contracts/crm.js';
import type {
  ActivityInput,
  CollisionInput,
  FanOut,
  FieldHistoryInput,
  LocalRecord,
  QuarantineInput,
  RecordWrite,
  StoreBatch,
} from '../contracts/store.js';
import { accountLinkOf } from '../entities.js';
import { accountOverwrite, companySource, fanOutDetail, fanOutLog, fanOutTargets, logsPerContactActivities } from '../rules/account.js';
import { syncsBothWays } from '../rules/direction.js';
import { accountLinkHistory, fanOutHistory, pullHistory, syncFilterHistory } from '../rules/history.js';
import { mergeRecord } from '../rules/merge.js';
import { changeActivities, newPersonActivities, syncFailedActivities } from '../rules/persons.js';
import { accountIdOf, crmDeletion, isEcho, passesSyncFilter, shouldFlagCrmDelete } from '../rules/records.js';
import type { FieldMap } from '../values.js';
import type { EngineContext, EntityPlan } from './context.js';
import { stateKeys } from './context.js';
import type { EntityCycleSummary } from './events.js';

type PageCounts = Pick<EntityCycleSummary, 'applied' | 'echoes' | 'filtered' | 'deleted' | 'collisions' | 'quarantined'>;

function pick(fields: FieldMap, names: readonly string[]): FieldMap {
  const out: FieldMap = {};
  for (const name of names) out[name] = fields[name] ?? null;
  return out;
}

/** The agreed values of a local person created in the CRM whose result was never stored (see the merge below). */
function sentBase(local: LocalRecord, crm: FieldMap, pushable: ReadonlySet<string>): FieldMap {
  const base: FieldMap = { ...local.base };
  for (const f of pushable) {
    if (local.fields[f] !== undefined && local.fields[f] !== null && Object.hasOwn(crm, f)) base[f] = crm[f] ?? null;
  }
  return base;
}

/**
 * Turns one page of CRM changes into one store batch: merged records (R2), new records, deletes
 * flagged (R12), echoes skipped (R13), filtered rows skipped (R11), account changes fanned out to
 * contacts (R4, R7), activities, collisions and quarantined rows, plus the page's checkpoint.
 */
export async function buildPageBatch(
  ctx: EngineContext,
  ep: EntityPlan,
  page: ChangePage,
  options: { assumeNew?: boolean } = {},
): Promise<{ batch: StoreBatch; counts: PageCounts }> {
  const { entity, plan } = ep;
  const name = entity.name;
  const counts: PageCounts = { applied: 0, echoes: 0, filtered: 0, deleted: 0, collisions: 0, quarantined: 0 };
  const deleted = new Set(page.deletes);
  // The last version of a row wins if a page repeats it; a row also deleted in the page is a delete.
  const rows = new Map<string, CrmRecord>();
  for (const row of page.upserts) if (!deleted.has(row.id)) rows.set(row.id, row);

  const locals = new Map<string, LocalRecord>();
  // `assumeNew` (a first full read into an entity with no records): nothing to look up. Should a row
  // exist after all, its insert (expected revision 0) conflicts and the page is built again with lookups.
  if (!options.assumeNew) {
    for (const r of await ctx.store.getRecordsByCrmId(name, [...rows.keys(), ...deleted])) locals.set(r.crmId as string, r);
  }
  // A local person created in the CRM with its own id (R14) whose push result was never recorded
  // (a crash between the CRM's answer and the store): the row is that person, not a new record.
  const unknown = options.assumeNew ? [] : [...rows.keys()].filter((id) => !locals.has(id));
  if (unknown.length > 0 && syncsBothWays(entity)) {
    for (const r of await ctx.store.getRecords(name, unknown)) if (r.crmId === null) locals.set(r.id, r);
  }

  // A record linked to an account gets its company from the store, which reads the account as it commits.
  const link = accountLinkOf(entity);
  const fanOutEntities = fanOutTargets(entity, ctx.registry.all);
  const members = new Map<string, Map<string, number>>();
  for (const target of fanOutEntities) members.set(target.name, await ctx.store.countByAccount(target.name, [...rows.keys()]));

  const pushable = new Set(plan.pushable);
  const merged = new Set(ep.pullFields);
  const snapshotId = page.snapshot?.id ?? null;
  const records: RecordWrite[] = [];
  const activities: ActivityInput[] = [];
  const collisions: CollisionInput[] = [];
  const quarantine: QuarantineInput[] = [];
  const fanOuts: FanOut[] = [];
  const history: FieldHistoryInput[] = [];
  const resolved: string[] = [];
  /** Records linked to another account by this page (R15), for their `account-link` history. */
  const relinks: Array<{ id: string; accountId: string | null; held: FieldMap }> = [];

  const markSeen = (local: LocalRecord | undefined) => {
    if (local && snapshotId !== null && local.seenIn !== snapshotId) {
      records.push({ id: local.id, expectedRevision: local.revision, seenIn: snapshotId });
    }
  };
  // `old`: the account's values before, what its records held (none for an account new locally:
  // records that came before it held no company values, so every key is history).
  const fanOut = (accountId: string, company: FieldMap, changed: string[], old: FieldMap | null) => {
    for (const target of fanOutEntities) {
      const count = members.get(target.name)?.get(accountId) ?? 0;
      if (count === 0) continue;
      const log = changed.length > 0 && logsPerContactActivities(count, ctx.config.changeDataValueThreshold);
      const detail = fanOutDetail(accountId, company, 'crm');
      const keys = old === null ? Object.keys(company) : changed;
      fanOuts.push({
        entity: target.name, accountId, company, ...(log ? { log: fanOutLog(changed, 'crm', detail) } : {}),
        ...(keys.length > 0 ? { history: fanOutHistory(keys, old ?? {}, 'crm', detail) } : {}),
      });
    }
  };

  for (const rejected of page.rejected) {
    counts.quarantined += 1;
    const local = rejected.id === null ? undefined : locals.get(rejected.id);
    const reason = rejected.id === null && snapshotId !== null ? `${rejected.reason} (this full read will not flag deletes)` : rejected.reason;
    quarantine.push({ entity: name, recordId: local?.id ?? rejected.id, direction: 'pull', reason, payload: rejected.raw });
    if (rejected.id === null || !rows.has(rejected.id)) markSeen(local); // it exists in the CRM: not a delete
    if (local) activities.push(...syncFailedActivities(entity, local.id, rejected.reason));
  }

  for (const row of rows.values()) {
    const local = locals.get(row.id);
    if (!passesSyncFilter(entity, row.fields)) {
      counts.filtered += 1;
      const filterField = entity.syncFilterField as string;
      // Keep the flag locally so pushes stop too; nothing else of the row is applied.
      if (local && local.fields[filterField] !== false) {
        history.push(...syncFilterHistory(name, local.id, filterField, local.fields));
        records.push({
          id: local.id, expectedRevision: local.revision, fields: { [filterField]: false }, base: { [filterField]: false },
          ...(snapshotId !== null ? { seenIn: snapshotId } : {}),
        });
      } else markSeen(local);
      continue;
    }
    if (isEcho(local, row)) {
      counts.echoes += 1;
      markSeen(local);
      if (local) resolved.push(local.id); // it reads fine: an earlier quarantine of this row is over
      continue;
    }
    const crm = pick(row.fields, ep.pullFields);
    const accountId = link ? accountIdOf(entity, row) : null;

    if (!local) {
      counts.applied += 1;
      resolved.push(row.id); // a row quarantined earlier that now reads fine
      const write: RecordWrite = { id: row.id, expectedRevision: 0, crmId: row.id, crmVersion: row.version, fields: crm, base: crm, pending: [], seenIn: snapshotId };
      if (link) {
        write.accountId = accountId;
        write.companyFrom = companySource(accountId);
      }
      records.push(write);
      activities.push(...newPersonActivities(entity, row.id, 'crm'));
      fanOut(row.id, crm, [], null);
      continue;
    }

    // A local person whose create reached the CRM but not the store (R14): the CRM holds what that
    // create sent (its pushable fields with a value), so local values of those that differ now are
    // edits made since and stay local changes; everything else is taken from the CRM as at creation.
    const base = local.crmId === null ? sentBase(local, crm, pushable) : local.base;
    const merge = mergeRecord({ entity, fields: ep.pullFields, base, local: local.fields, crm });
    const pending = [
      ...local.pending.filter((f) => !merged.has(f)),
      ...merge.pending.filter((f) => pushable.has(f)),
    ];
    const write: RecordWrite = {
      id: local.id, expectedRevision: local.revision, crmVersion: row.version, fields: merge.fields, base: merge.base, pending,
    };
    if (local.crmId === null) write.crmId = row.id;
    if (snapshotId !== null) write.seenIn = snapshotId;
    if (local.crmDeleted) write.crmDeleted = false;
    const relinked = link !== undefined && accountId !== local.accountId;
    if (relinked) {
      write.accountId = accountId;
      write.companyFrom = companySource(accountId);
      relinks.push({ id: local.id, accountId, held: local.company });
    }
    records.push(write);
    resolved.push(local.id);
    if (merge.changes.length > 0 || merge.collisions.length > 0 || relinked) counts.applied += 1;
    for (const c of merge.collisions) {
      counts.collisions += 1;
      collisions.push({ entity: name, recordId: local.id, field: c.field, localValue: c.localValue, crmValue: c.crmValue, winner: c.winner });
    }
    activities.push(...changeActivities(entity, local.id, merge.changes, 'crm'));
    history.push(...pullHistory(name, local.id, merge.changes, merge.collisions));
    if (fanOutEntities.length > 0) {
      // R4: a CRM change to an account overwrites all its synced fields on every contact.
      const overwrite = accountOverwrite(ep.pullFields, local.fields, crm);
      if (overwrite.changed.length > 0) fanOut(local.id, overwrite.company, overwrite.changed, local.fields);
    }
  }

  for (const id of deleted) {
    const local = locals.get(id);
    if (!shouldFlagCrmDelete(local)) {
      markSeen(local);
      continue;
    }
    counts.deleted += 1;
    const deletion = crmDeletion(name, local, null);
    records.push(deletion.write);
    activities.push(deletion.activity);
  }

  if (relinks.length > 0) {
    // The values the store will copy (companyFrom), read now for the history: relinks are rare.
    const ids = [...new Set(relinks.flatMap((r) => (r.accountId === null ? [] : [r.accountId])))];
    const accounts = new Map((await ctx.store.getRecordsByCrmId(companySource(null).entity, ids)).map((a) => [a.crmId, a.fields]));
    for (const r of relinks) history.push(...accountLinkHistory(name, r.id, r.accountId, r.held, r.accountId === null ? null : accounts.get(r.accountId) ?? null));
  }

  const state: Record<string, string | null> = {};
  // A row without a key may be any record: a full read that held one cannot tell deletes (R12).
  const keyless = snapshotId !== null && page.rejected.some((r) => r.id === null);
  if (keyless && !page.snapshot?.complete) state[stateKeys.keyless(name)] = snapshotId;
  if (page.snapshot?.complete) {
    const trusted = !keyless && (await ctx.store.getState(stateKeys.keyless(name))) !== snapshotId;
    if (trusted) state[stateKeys.reconcile(name)] = page.snapshot.id;
    state[stateKeys.keyless(name)] = null;
  }
  if (ep.storedSynced === null) state[stateKeys.syncedFields(name)] = ep.syncedState;

  return {
    batch: {
      // An adapter without incremental pulls cannot resume after a whole read: the next cycle reads it all again.
      entity: name, records, checkpoint: page.snapshot?.complete && !ctx.adapter.capabilities.incrementalPull ? null : page.checkpoint, state, activities, collisions, quarantine, fanOuts,
      ...(history.length > 0 ? { history } : {}),
      // A row that reads fine closes what an earlier pull could not apply, not a refused push.
      resolveQuarantine: resolved, resolveDirection: 'pull',
    },
    counts,
  };
}
