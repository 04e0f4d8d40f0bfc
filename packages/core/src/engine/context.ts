import type { CrmAdapter, CrmEntitySchema } from '../contracts/crm.js';
import type { CommitOptions, StoreBatch, SyncStore } from '../contracts/store.js';
import type { SyncConfig } from '../config.js';
import type { EntityDefinition, EntityRegistry } from '../entities.js';
import { isSyncError } from '../errors.js';
import { planFields } from '../rules/fields.js';
import { fieldsToBackfill } from '../rules/quick-sync.js';
import type { FieldPlan } from '../rules/fields.js';
import type { SyncEvent } from './events.js';

export interface EngineContext {
  adapter: CrmAdapter;
  store: SyncStore;
  registry: EntityRegistry;
  config: SyncConfig;
  now: () => Date;
  emit: (event: SyncEvent) => void;
}

/** State keys the engine keeps in the store. */
export const stateKeys = {
  /** Fields added to an entity's selection at run time (R10), JSON array. */
  addedFields: (entity: string) => `fields:added:${entity}`,
  /** Fields whose values every local record holds (initial sync or Quick Sync done), JSON array. */
  syncedFields: (entity: string) => `fields:synced:${entity}`,
  /** Snapshot id whose delete reconciliation is still to run (R12), set with the snapshot's last page. */
  reconcile: (entity: string) => `reconcile:${entity}`,
  /** Snapshot id of a full read that held a row without a readable key: its absences prove no delete. */
  keyless: (entity: string) => `keyless:${entity}`,
  /** The CRM's column names when the entity was last planned in a cycle (schema drift, R9), JSON array. */
  knownColumns: (entity: string) => `fields:known:${entity}`,
  /** Synced fields stopped because the CRM changed their type (R9), JSON object field -> why. */
  stoppedFields: (entity: string) => `fields:stopped:${entity}`,
  /** When the entity's last pull read to its end was opened (ISO): the age of its change token. */
  lastRead: (entity: string) => `pull:last-read:${entity}`,
};

export interface EntityPlan {
  entity: EntityDefinition;
  schema: CrmEntitySchema;
  plan: FieldPlan;
  /** Fields to ask the CRM for: synced fields plus the sync filter field when the CRM has it. */
  pullFields: string[];
  /** Synced fields that existing records do not hold yet (need a Quick Sync backfill). */
  newFields: string[];
  /** Value to store as the synced-field list. */
  syncedState: string;
  /** The synced-field list as stored when the plan was made (null before the first full read). */
  storedSynced: string | null;
}

export async function readJsonList(store: SyncStore, key: string): Promise<string[] | null> {
  const raw = await store.getState(key);
  if (raw === null) return null;
  const parsed: unknown = JSON.parse(raw);
  return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : null;
}

export async function readJsonRecord(store: SyncStore, key: string): Promise<Record<string, string>> {
  const raw = await store.getState(key);
  const parsed: unknown = raw === null ? null : JSON.parse(raw);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** R6, R9: reads the entity's metadata (`fresh`: not from the adapter's cache) and works out what syncs. */
export async function planEntity(ctx: EngineContext, entity: EntityDefinition, fresh = false, signal?: AbortSignal): Promise<EntityPlan> {
  const schema = await ctx.adapter.describeEntity(entity, { ...(fresh ? { fresh } : {}), ...(signal ? { signal } : {}) });
  const configured = ctx.config.entities[entity.name]?.fields ?? 'all';
  const added = (await readJsonList(ctx.store, stateKeys.addedFields(entity.name))) ?? [];
  const selection = configured === 'all' ? 'all' : [...new Set([...configured, ...added])];
  const stopped = await readJsonRecord(ctx.store, stateKeys.stoppedFields(entity.name));
  const plan = planFields(entity, schema, selection, stopped);
  const filterField = entity.syncFilterField;
  const pullFields = [...plan.synced];
  if (filterField && !pullFields.includes(filterField) && schema.fields.some((f) => f.name === filterField && f.canRead)) {
    pullFields.push(filterField);
  }
  const synced = await readJsonList(ctx.store, stateKeys.syncedFields(entity.name));
  const checkpoint = await ctx.store.getCheckpoint(entity.name);
  // R10: before the first full read every field arrives with it; afterwards new fields need a backfill.
  const newFields = fieldsToBackfill(plan.synced, checkpoint === null ? null : synced);
  return {
    entity, schema, plan, pullFields, newFields, syncedState: JSON.stringify(plan.synced),
    storedSynced: synced === null ? null : JSON.stringify(synced),
  };
}

/** Commits a batch built from fresh reads, rebuilding it when a record changed in between. */
export async function commitWithRetry(
  ctx: EngineContext,
  build: (attempt: number) => Promise<StoreBatch>,
  options: { attempts?: number; commit?: CommitOptions } = {},
): Promise<StoreBatch> {
  const attempts = options.attempts ?? 5;
  // A commit it follows that failed fails this one with its error: that is no conflict of this batch.
  let afterFailed = false;
  options.commit?.after?.catch(() => (afterFailed = true));
  for (let attempt = 1; ; attempt += 1) {
    const batch = await build(attempt);
    try {
      await ctx.store.commit(batch, options.commit);
      return batch;
    } catch (error) {
      if (afterFailed || !isSyncError(error, 'STORE_CONFLICT') || attempt >= attempts) throw error;
    }
  }
}
