import { randomUUID } from 'node:crypto';
import type { Activity, CycleSummary, LocalRecord, SyncConfigInput, SyncEngine, SyncEngineOptions, SyncStore } from '@crm-sync/core';
import { createSyncEngine } from '@crm-sync/core';
import type { CrmHarness, Harness } from './harness.js';
import { customEntities } from './harness.js';

export interface World {
  crm: CrmHarness;
  store: SyncStore;
  engine: SyncEngine;
  /** Runs one cycle and fails the test if an entity failed. */
  cycle(entities?: string[]): Promise<CycleSummary>;
  local(entity: string, id: string): Promise<LocalRecord | undefined>;
  activities(entity: string, id: string): Promise<Activity[]>;
  close(): Promise<void>;
}

export const newId = (): string => randomUUID();

/** `engine`: the engine's clock and event listener (a simulator's clock, to age change tokens). */
export async function createWorld(harness: Harness, config: SyncConfigInput = {}, engineOptions: Pick<SyncEngineOptions, 'now' | 'onEvent'> = {}): Promise<World> {
  const crm = await harness.crm();
  const store = await harness.store();
  const engine = createSyncEngine({ adapter: crm.adapter, store, config: { customEntities, ...config }, ...engineOptions });
  return {
    crm,
    store,
    engine,
    async cycle(entities) {
      const summary = await engine.runCycle(entities ? { entities } : {});
      const failed = summary.entities.filter((e) => e.status === 'failed');
      if (failed.length > 0) throw new Error(`cycle failed: ${JSON.stringify(failed.map((f) => [f.entity, f.error]))}`);
      return summary;
    },
    async local(entity, id) {
      return (await store.getRecords(entity, [id]))[0];
    },
    async activities(entity, id) {
      return (await store.listActivities({ limit: 100_000, entity, recordId: id })).items;
    },
    async close() {
      await engine.stop();
      await store.close();
      await crm.close();
    },
  };
}
