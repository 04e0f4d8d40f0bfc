import type { CrmSchemaChange } from '../contracts/crm.js';
import type { EntityDefinition } from '../entities.js';
import { isSyncError } from '../errors.js';
import { describeDrift, REASONS } from '../rules/drift.js';
import type { SchemaDrift } from '../rules/drift.js';
import type { EngineContext, EntityPlan } from './context.js';
import { readJsonList, readJsonRecord, stateKeys } from './context.js';

/**
 * R9: the adapter's own feed of column changes, read once per cycle for all entities (one request
 * on Dataverse) when the adapter has one. A failed read is no failure of the cycle: drift is still
 * found by comparing the entities' definitions with the columns recorded last time.
 */
export async function readSchemaChanges(ctx: EngineContext, entities: readonly EntityDefinition[], signal?: AbortSignal): Promise<Map<string, CrmSchemaChange[]>> {
  const byEntity = new Map<string, CrmSchemaChange[]>();
  if (!ctx.adapter.schemaChanges || entities.length === 0) return byEntity;
  let changes: CrmSchemaChange[];
  try {
    changes = await ctx.adapter.schemaChanges(entities, signal ? { signal } : {});
  } catch (error) {
    if (isSyncError(error, 'ABORTED')) throw error;
    return byEntity;
  }
  for (const change of changes) byEntity.set(change.entity, [...(byEntity.get(change.entity) ?? []), change]);
  return byEntity;
}

/**
 * Before the entity is planned: a synced column the CRM gave another type stops syncing (its local
 * values are kept, the reason recorded) rather than mixing values of two types or failing pages. It
 * stays stopped until a person adds it again (`addField`).
 */
export async function stopRetypedFields(ctx: EngineContext, entity: string, changes: readonly CrmSchemaChange[]): Promise<void> {
  const retyped = changes.filter((c) => c.kind === 'type-changed');
  if (retyped.length === 0) return;
  const synced = await readJsonList(ctx.store, stateKeys.syncedFields(entity));
  const stop = retyped.filter((c) => synced?.includes(c.field));
  if (stop.length === 0) return;
  const stopped = await readJsonRecord(ctx.store, stateKeys.stoppedFields(entity));
  for (const c of stop) stopped[c.field] = `the CRM changed its type from ${c.previousType ?? 'unknown'} to ${c.type ?? 'unknown'}`;
  await ctx.store.commit({ entity, state: { [stateKeys.stoppedFields(entity)]: JSON.stringify(stopped) } });
}

/** A person added the field again: its stop (if any) ends, so it syncs with its new type. */
export async function resumeStoppedField(ctx: EngineContext, entity: string, field: string): Promise<void> {
  const stopped = await readJsonRecord(ctx.store, stateKeys.stoppedFields(entity));
  if (stopped[field] === undefined) return;
  delete stopped[field];
  await ctx.store.commit({ entity, state: { [stateKeys.stoppedFields(entity)]: JSON.stringify(stopped) } });
}

/** One change told in words with what it means for the sync, and as drift for the event. */
export interface ToldChange {
  change: CrmSchemaChange;
  detail: string;
  drift: SchemaDrift;
}

/** Each change in words, as the comparison of definitions words it, against the plan made after it (`wasSynced`: the synced fields before). */
export function tellChanges(ep: EntityPlan, changes: readonly CrmSchemaChange[], wasSynced: readonly string[]): ToldChange[] {
  const name = ep.entity.name;
  const excluded = new Map(ep.plan.excluded.map((e) => [e.field, e.reason]));
  return changes.map((change) => {
    const { field } = change;
    const drift: SchemaDrift = { added: [], removed: [], unsynced: [] };
    const synced = ep.plan.synced.includes(field);
    const reason = excluded.get(field);
    const lost = wasSynced.includes(field) && !synced;
    if (lost) drift.unsynced.push({ field, reason: change.kind === 'removed' ? 'removed-from-crm' : (reason ?? 'removed-from-crm') });
    if (change.kind === 'added') drift.added.push(reason === undefined ? { field, synced } : { field, synced: false, reason });
    if (change.kind === 'removed') drift.removed.push(field);
    if (change.kind === 'added' || change.kind === 'removed') return { change, detail: describeDrift(name, drift), drift };
    const what =
      change.kind === 'type-changed'
        ? `CRM column ${name}.${field} changed type from ${change.previousType ?? 'unknown'} to ${change.type ?? 'unknown'}`
        : `CRM column ${name}.${field} is ${change.secured ? 'now secured by field security' : 'no longer secured by field security'}`;
    const now = synced ? 'still synced' : REASONS[reason ?? 'not-selected'];
    return { change, detail: lost ? `${what}; ${describeDrift(name, drift)}` : `${what}: ${now}`, drift };
  });
}
