import { describeDrift, schemaDrift } from '../rules/drift.js';
import type { EngineContext, EntityPlan } from './context.js';
import { readJsonList, stateKeys } from './context.js';

/**
 * R9: each cycle, before the pull, the entity's plan is compared with the CRM columns and synced
 * fields recorded last time; a change is told once (a `schema-drift` event and activity) and recorded.
 * Costs a store read per entity and no CRM request (the plan's metadata is reused).
 */
export async function noteSchemaDrift(ctx: EngineContext, ep: EntityPlan): Promise<void> {
  const name = ep.entity.name;
  const known = await readJsonList(ctx.store, stateKeys.knownColumns(name));
  const columns = ep.schema.fields.map((f) => f.name);
  const synced = ep.storedSynced === null ? null : (JSON.parse(ep.storedSynced) as string[]);
  const drift = schemaDrift(known, synced, ep.schema, ep.plan);
  const sameColumns = known !== null && known.length === columns.length && columns.every((c) => known.includes(c));
  if (drift === null && sameColumns) return;
  const detail = drift === null ? null : describeDrift(name, drift);
  await ctx.store.commit({
    entity: name,
    state: { [stateKeys.knownColumns(name)]: JSON.stringify(columns) },
    activities: detail === null ? [] : [{ entity: name, recordId: '*', type: 'schema-drift', source: 'crm', detail }],
  });
  if (drift !== null && detail !== null) ctx.emit({ type: 'schema-drift', entity: name, ...drift, detail });
}
