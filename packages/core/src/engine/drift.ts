import type { CrmSchemaChange } from '../contracts/crm.js';
import { describeDrift, schemaDrift } from '../rules/drift.js';
import type { SchemaDrift } from '../rules/drift.js';
import type { ActivityInput } from '../contracts/store.js';
import type { EngineContext, EntityPlan } from './context.js';
import { readJsonList, stateKeys } from './context.js';
import { tellChanges } from './schema-changes.js';

/**
 * R9: each cycle, before the pull, the entity's plan is compared with the CRM columns and synced
 * fields recorded last time; a change is told once (a `schema-drift` event and activity) and recorded.
 * Costs a store read per entity and no CRM request (the plan's metadata is reused). Changes the
 * adapter's feed reported (`changes`) are told one by one, each with what it means for the sync;
 * the comparison tells only what they do not cover.
 */
export async function noteSchemaDrift(ctx: EngineContext, ep: EntityPlan, changes: readonly CrmSchemaChange[] = []): Promise<void> {
  const name = ep.entity.name;
  const known = await readJsonList(ctx.store, stateKeys.knownColumns(name));
  const columns = ep.schema.fields.map((f) => f.name);
  const synced = ep.storedSynced === null ? null : (JSON.parse(ep.storedSynced) as string[]);
  const told = tellChanges(ep, changes, synced ?? []);
  const covered = new Set(changes.map((c) => c.field));
  const drift = uncovered(schemaDrift(known, synced, ep.schema, ep.plan), covered);
  const sameColumns = known !== null && known.length === columns.length && columns.every((c) => known.includes(c));
  if (drift === null && told.length === 0 && sameColumns) return;
  const detail = drift === null ? null : describeDrift(name, drift);
  const activity = (text: string): ActivityInput => ({ entity: name, recordId: '*', type: 'schema-drift', source: 'crm', detail: text });
  await ctx.store.commit({
    entity: name,
    state: { [stateKeys.knownColumns(name)]: JSON.stringify(columns) },
    activities: [...told.map((t) => activity(t.detail)), ...(detail === null ? [] : [activity(detail)])],
  });
  for (const t of told) ctx.emit({ type: 'schema-drift', entity: name, ...t.drift, detail: t.detail, change: t.change });
  if (drift !== null && detail !== null) ctx.emit({ type: 'schema-drift', entity: name, ...drift, detail });
}

/** The drift without the fields the feed already told; null when nothing is left. */
function uncovered(drift: SchemaDrift | null, covered: ReadonlySet<string>): SchemaDrift | null {
  if (drift === null || covered.size === 0) return drift;
  const left: SchemaDrift = {
    added: drift.added.filter((a) => !covered.has(a.field)),
    removed: drift.removed.filter((f) => !covered.has(f)),
    unsynced: drift.unsynced.filter((u) => !covered.has(u.field)),
  };
  return left.added.length + left.removed.length + left.unsynced.length === 0 ? null : left;
}
