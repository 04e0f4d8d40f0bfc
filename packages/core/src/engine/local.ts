import type { FanOut, LocalRecord, RecordWrite } from '../contracts/store.js';
import type { EntityDefinition } from '../entities.js';
import { SyncError } from '../errors.js';
import { fanOutDetail, fanOutLog, fanOutTargets, localAccountEdit, logsPerContactActivities } from '../rules/account.js';
import { syncsBothWays } from '../rules/direction.js';
import { localEditFields } from '../rules/guards.js';
import { createHistory, fanOutHistory, localEditHistory } from '../rules/history.js';
import { changeActivities, newPersonActivities } from '../rules/persons.js';
import { refusedAfterCrmDelete } from '../rules/records.js';
import { assertValuesAccepted } from '../rules/values.js';
import type { FieldMap } from '../values.js';
import { isFieldValue, sameValue } from '../values.js';
import type { EngineContext, EntityPlan } from './context.js';
import { commitWithRetry } from './context.js';
import { accountLinkOf } from '../entities.js';

/** A local change through the API: person or account fields, or account fields through a contact. */
export interface LocalEdit {
  fields?: FieldMap;
  /** Account fields edited through a contact (R4): applied to its account and all its contacts. */
  company?: FieldMap;
}

function invalid(message: string, details: Record<string, unknown>): SyncError {
  return new SyncError('LOCAL_EDIT_INVALID', message, { details });
}

function checkValues(entity: string, fields: FieldMap): void {
  for (const [field, value] of Object.entries(fields)) {
    if (!/^[a-z][a-z0-9_]*$/.test(field)) throw invalid(`${entity}.${field}: not a valid field name`, { entity, field });
    if (!isFieldValue(value)) throw invalid(`${entity}.${field}: values must be text, a finite number, true/false or null`, { entity, field });
  }
}

/**
 * Person fields a local edit may change (R6, R8): refused CRM fields throw LOCAL_EDIT_INVALID with
 * their reasons, and values the CRM's metadata says it would refuse FIELD_VALUE_INVALID. Returns the
 * fields that will be pushed.
 */
function checkPersonFields(ep: EntityPlan, fields: FieldMap): string[] {
  const { pushed, refused } = localEditFields(Object.keys(fields), ep.plan, ep.schema.fields);
  if (refused.length > 0) {
    const why = refused.map((r) => `${r.field} (${r.reason})`);
    throw invalid(`${ep.entity.name}: these CRM fields cannot be changed locally: ${why.join(', ')}`, { entity: ep.entity.name, fields: refused.map((r) => r.field) });
  }
  assertValuesAccepted(ep.entity.name, Object.fromEntries(pushed.map((f) => [f, fields[f] ?? null])), ep.schema.fields);
  return pushed;
}

/** R12: throws RECORD_CRM_DELETED when the edit changes CRM fields of a record deleted in the CRM. */
function refuseIfCrmDeleted(record: LocalRecord, pushable: readonly string[]): void {
  const refused = refusedAfterCrmDelete(record, pushable);
  if (refused.length === 0) return;
  throw new SyncError(
    'RECORD_CRM_DELETED',
    `${record.entity} ${record.id} was deleted in the CRM (R12): a local change of its CRM fields (${refused.join(', ')}) could never be pushed. It is kept locally as CRM-deleted; local-only fields can still be edited`,
    { details: { entity: record.entity, id: record.id, fields: refused } },
  );
}

async function readOne(ctx: EngineContext, entity: string, id: string): Promise<LocalRecord> {
  const [record] = await ctx.store.getRecords(entity, [id]);
  if (!record) throw invalid(`No ${entity} with id ${id}`, { entity, id, notFound: true });
  return record;
}

/** R4: an account edit reaches the account and, set-wise, every record linked to it; never the CRM. */
async function editAccount(ctx: EngineContext, accountEntity: EntityDefinition, account: LocalRecord, edits: FieldMap): Promise<void> {
  const { company, changed } = localAccountEdit(account.fields, edits);
  if (changed.length === 0) return;
  const fanOuts: FanOut[] = [];
  for (const target of fanOutTargets(accountEntity, ctx.registry.all)) {
    const count = (await ctx.store.countByAccount(target.name, [account.id])).get(account.id) ?? 0;
    const log = logsPerContactActivities(count, ctx.config.changeDataValueThreshold);
    const detail = fanOutDetail(account.id, { ...account.fields, ...company }, 'local');
    fanOuts.push({
      entity: target.name, accountId: account.id, company,
      ...(log ? { log: fanOutLog(changed, 'local', detail) } : {}),
      ...(count > 0 ? { history: fanOutHistory(changed, account.fields, 'local', detail) } : {}),
    });
  }
  await ctx.store.commit({
    entity: accountEntity.name,
    records: [{ id: account.id, expectedRevision: account.revision, fields: company }],
    fanOuts,
    history: localEditHistory(accountEntity.name, account.id, changed.map((f) => ({ field: f, oldValue: account.fields[f] ?? null, newValue: company[f] ?? null }))),
  });
}

export async function applyLocalEdit(
  ctx: EngineContext,
  plan: (entity: EntityDefinition) => Promise<EntityPlan>,
  entity: EntityDefinition,
  id: string,
  edit: LocalEdit,
): Promise<LocalRecord> {
  const fields = edit.fields ?? {};
  const company = edit.company ?? {};
  checkValues(entity.name, fields);
  checkValues(entity.name, company);
  if (entity.kind === 'account') {
    if (Object.keys(company).length > 0) throw invalid('account: edit account fields through `fields`', { entity: entity.name });
    await editAccount(ctx, entity, await readOne(ctx, entity.name, id), fields);
    return readOne(ctx, entity.name, id);
  }
  if (!syncsBothWays(entity)) {
    throw invalid(`${entity.name} syncs one way, from the CRM: edit it in the CRM`, { entity: entity.name });
  }
  const ep = await plan(entity);
  const pushable = checkPersonFields(ep, fields);
  if (Object.keys(company).length > 0) {
    const record = await readOne(ctx, entity.name, id);
    refuseIfCrmDeleted(record, pushable);
    if (!accountLinkOf(entity) || record.accountId === null) {
      throw invalid(`${entity.name} ${id} has no account, so it has no account fields to edit`, { entity: entity.name, id });
    }
    const accountEntity = ctx.registry.all.find((e) => e.kind === 'account') as EntityDefinition;
    const [account] = await ctx.store.getRecords(accountEntity.name, [record.accountId]);
    if (!account) throw invalid(`The account ${record.accountId} of ${entity.name} ${id} is not synced yet`, { entity: entity.name, id });
    await editAccount(ctx, accountEntity, account, company);
  }
  await commitWithRetry(ctx, async () => {
    const fresh = await readOne(ctx, entity.name, id);
    refuseIfCrmDeleted(fresh, pushable);
    const changed = Object.keys(fields).filter((f) => !sameValue(fresh.fields[f], fields[f]));
    const pending = [...new Set([...fresh.pending, ...changed.filter((f) => pushable.includes(f))])];
    const write: RecordWrite = {
      id, expectedRevision: fresh.revision, fields: Object.fromEntries(changed.map((f) => [f, fields[f] ?? null])), pending,
    };
    const changes = changed.map((f) => ({ field: f, oldValue: fresh.fields[f] ?? null, newValue: fields[f] ?? null }));
    return {
      entity: entity.name,
      records: changed.length > 0 ? [write] : [],
      activities: changeActivities(entity, id, changes, 'local'),
      history: localEditHistory(entity.name, id, changes),
    };
  });
  return readOne(ctx, entity.name, id);
}

/**
 * R14: a new local person, created as a lead; marked for sync it is created in the CRM by the next
 * cycle with this id (so a retried create is recognised).
 */
export async function createLocalPerson(
  ctx: EngineContext,
  ep: EntityPlan,
  fields: FieldMap,
  options: { syncToCrm: boolean; id?: string },
): Promise<LocalRecord> {
  checkValues(ep.entity.name, fields);
  checkPersonFields(ep, fields);
  const id = options.id ?? globalThis.crypto.randomUUID();
  await ctx.store.commit({
    entity: ep.entity.name,
    records: [{ id, expectedRevision: 0, crmId: null, fields, syncToCrm: options.syncToCrm, pending: [] }],
    activities: newPersonActivities(ep.entity, id, 'local'),
    history: createHistory(ep.entity.name, id, fields),
  });
  return readOne(ctx, ep.entity.name, id);
}

/**
 * A local delete (Marketo's "Delete Person"): the person is removed locally with its pending changes
 * and is never deleted in the CRM (R12). Its activity log stays, with a `local-deleted` entry; its
 * open sync errors are resolved. As in Marketo, where a person deleted locally and then changed in
 * Dynamics comes back as a new person, the next time the CRM sends the row (a change, or a full read)
 * it is synced again as a new person. Accounts and one-way records are the CRM's: refused.
 */
export async function deleteLocalRecord(ctx: EngineContext, entity: EntityDefinition, id: string): Promise<void> {
  if (!syncsBothWays(entity)) {
    throw invalid(`${entity.name} syncs one way, from the CRM: only persons (leads, contacts) are deleted locally; delete it in the CRM`, { entity: entity.name, id });
  }
  await commitWithRetry(ctx, async () => {
    const record = await readOne(ctx, entity.name, id);
    const detail = record.crmId === null
      ? 'deleted locally before it was created in the CRM'
      : `deleted locally only: the CRM keeps ${entity.name} ${record.crmId} (R12); a later change of it there syncs it again as a new person`;
    return {
      entity: entity.name,
      deletes: [{ id, expectedRevision: record.revision }],
      activities: [{ entity: entity.name, recordId: id, type: 'local-deleted' as const, source: 'local' as const, detail }],
      resolveQuarantine: [id],
    };
  });
}
