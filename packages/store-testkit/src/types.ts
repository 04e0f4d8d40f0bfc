import type { LocalRecord, SyncStore } from '@crm-sync/core';

/**
 * Reads under the store's API (its own tables or maps), so the suite checks what a write really
 * stored instead of trusting the store's read methods.
 */
export interface StoreBackdoor {
  /** The stored record as the store persisted it, or null. */
  readRecord(entity: string, id: string): Promise<Pick<LocalRecord, 'id' | 'crmId' | 'fields' | 'revision'> | null>;
  /** The stored checkpoint of an entity, or null. */
  readCheckpoint(entity: string): Promise<string | null>;
  /** Number of stored activities. */
  countActivities(): Promise<number>;
}

/** What the factory hands each test: a fresh, empty store and optionally its backdoor. */
export interface StoreUnderTest {
  store: SyncStore;
  raw?: StoreBackdoor;
  /** Called after each test (after `store.close()`): drop the schema, delete files. */
  cleanup?: () => Promise<void>;
}

/** Creates a fresh, empty store for one test. */
export type StoreFactory = () => Promise<StoreUnderTest>;

export interface TestContext {
  /** Runs `fn` with a fresh store and closes it afterwards. */
  withStore(fn: (store: SyncStore, raw: StoreBackdoor | undefined) => Promise<void>): Promise<void>;
}
