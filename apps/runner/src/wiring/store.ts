import type { SyncStore } from '@crm-sync/core';
import { createMemoryStore } from '@crm-sync/memory-store';
import type { Secrets } from '../config/load.js';
import type { StoreConfig } from '../config/schema.js';

/** The store from the config: in-process memory, or PostgreSQL (pending migrations are applied). */
export async function openStore(store: StoreConfig, secrets: Secrets): Promise<SyncStore> {
  if (store.kind === 'memory') return createMemoryStore();
  // pg loads only for a PostgreSQL store.
  const { connectPostgresStore } = await import('@crm-sync/postgres-store');
  return connectPostgresStore({
    url: secrets.databaseUrl ?? '', schema: store.schema, maxConnections: store.maxConnections, preparedStatements: store.preparedStatements,
  });
}

/** Human description of the store, without secrets. */
export function describeStore(store: StoreConfig): string {
  return store.kind === 'memory' ? 'memory (in this process)' : `postgres (schema ${store.schema})`;
}
