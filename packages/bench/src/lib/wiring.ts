import { createSyncEngine } from '@crm-sync/core';
import type { CrmAdapter, SyncConfigInput, SyncEngine, SyncEvent, SyncStore } from '@crm-sync/core';
import { adapterOptionsSchema, createDynamicsAdapter } from '@crm-sync/dynamics-adapter';
import type { DynamicsAdapterOptions } from '@crm-sync/dynamics-adapter';

/** The entities every benchmark syncs, in cycle order, and the fields a marketing sync selects. */
export const FIELDS = {
  account: ['name', 'accountnumber', 'telephone1', 'websiteurl', 'address1_city', 'industrycode', 'revenue', 'numberofemployees'],
  contact: ['firstname', 'lastname', 'emailaddress1', 'telephone1', 'jobtitle', 'birthdate', 'parentcustomerid'],
  lead: ['firstname', 'lastname', 'emailaddress1', 'telephone1', 'companyname', 'subject', 'leadsourcecode'],
} as const;
export type BenchEntity = keyof typeof FIELDS;
export const ENTITIES = Object.keys(FIELDS) as BenchEntity[];

/** The sync filter field the engine adds to every pull (R11). */
export const FILTER_FIELD = 'new_synctomkto';

export function syncConfig(entities: readonly BenchEntity[] = ENTITIES): SyncConfigInput {
  return {
    entities: {
      systemuser: { enabled: false },
      team: { enabled: false },
      opportunity: { enabled: false },
      ...Object.fromEntries(ENTITIES.map((e) => [e, entities.includes(e) ? { fields: [...FIELDS[e]] } : { enabled: false }])),
    },
  };
}

/** The adapter as a runner configures it against the simulator (static token: no sign-in round trip). */
export function simulatorAdapter(url: string, options: Partial<DynamicsAdapterOptions> = {}): CrmAdapter {
  return createDynamicsAdapter({ environmentUrl: url, auth: { kind: 'static-token', token: 'sim-token-sync' }, ...options });
}

export interface Runner {
  engine: SyncEngine;
  adapter: CrmAdapter;
  store: SyncStore;
}

/** Adapter + engine + store, wired like a runner. */
export function createRunner(options: {
  url: string;
  store: SyncStore;
  entities?: readonly BenchEntity[];
  adapter?: Partial<DynamicsAdapterOptions>;
  /** An adapter to go on with (its metadata cache and its view of the service's limits), as one long-running runner does; `adapter` is then ignored. */
  reuse?: CrmAdapter;
  onEvent?: (event: SyncEvent) => void;
}): Runner {
  const adapter = options.reuse ?? simulatorAdapter(options.url, options.adapter);
  const engine = createSyncEngine({
    adapter,
    store: options.store,
    config: syncConfig(options.entities),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  return { engine, adapter, store: options.store };
}

/** One engine cycle; throws when an entity failed, so no figure is made of a broken sync. */
export async function runCycleChecked(engine: SyncEngine, entities?: readonly BenchEntity[]): Promise<{ records: number; ms: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const summary = await engine.runCycle(entities ? { entities } : {});
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const failed = summary.entities.filter((e) => e.status !== 'ok');
  if (failed.length > 0) {
    throw new Error(`cycle failed: ${failed.map((e) => `${e.entity} ${e.status} ${e.error?.code ?? ''} ${e.error?.message ?? ''}`).join('; ')}`);
  }
  const records = summary.entities.reduce((sum, e) => sum + e.pulled, 0);
  return { records, ms, cpuMs: (used.user + used.system) / 1000 };
}

/**
 * Adapter options for a service whose protection window is `windowMs` (real time), when the
 * adapter paces itself on that window (an option newer adapters have); nothing otherwise.
 */
export function windowOptions(windowMs: number): Partial<DynamicsAdapterOptions> {
  return 'serviceProtection' in adapterOptionsSchema.shape ? ({ serviceProtection: { windowMs } } as Partial<DynamicsAdapterOptions>) : {};
}
