import type { SyncStore } from '@crm-sync/core';
import { isSyncError } from '@crm-sync/core';
import pg from 'pg';
import type { Pool } from 'pg';
import { migrate } from './migrations.js';
import { poolDriver } from './pool-driver.js';
import { unavailable } from './sql.js';
import { createSqlStore } from './sql-store.js';

export interface PostgresStoreOptions {
  /** A pg Pool the caller owns (the store never ends it). */
  pool: Pool;
  /** Schema holding the tables (default `crm_sync`); one schema per organization. */
  schema?: string;
  /**
   * Longest a commit waits for a lock another transaction holds (PostgreSQL's `lock_timeout`); it
   * then fails with STORE_UNAVAILABLE and writes nothing. This bounds a wait PostgreSQL cannot see
   * as a deadlock: a chained commit (`{ after }`) waits for the one before it in the runner, not in
   * the database. Default 30,000; 0 waits as long as it takes.
   */
  lockTimeoutMs?: number;
  /**
   * Send the statements every commit and read uses as named prepared statements, parsed once per
   * connection (default true): a commit of one record takes about a third of the time. Set false
   * behind a pooler that hands each transaction another server connection without carrying prepared
   * statements over (PgBouncer in transaction mode before 1.21, or without `max_prepared_statements`).
   */
  preparedStatements?: boolean;
}

/**
 * A SyncStore on a PostgreSQL server. Every commit is one transaction; the records, checkpoint,
 * engine state and log rows of a batch are written by one statement from JSON arrays (set-wise, no
 * statement per row), and account fan-outs by two more, whatever the number of contacts.
 */
export function createPostgresStore(options: PostgresStoreOptions): SyncStore {
  const driver = poolDriver(options.pool, {
    ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
    ...(options.preparedStatements !== undefined ? { preparedStatements: options.preparedStatements } : {}),
  });
  return createSqlStore(driver, options.schema ? { schema: options.schema } : {});
}

export interface ConnectOptions {
  /** postgres://user@host:port/database */
  url: string;
  schema?: string;
  /** Pool size (default 10). */
  maxConnections?: number;
  /** See PostgresStoreOptions.lockTimeoutMs. */
  lockTimeoutMs?: number;
  /** See PostgresStoreOptions.preparedStatements. */
  preparedStatements?: boolean;
}

/**
 * Opens a pool, applies pending migrations and returns a store that ends the pool on `close()`.
 */
export async function connectPostgresStore(options: ConnectOptions): Promise<SyncStore> {
  const pool = new pg.Pool({ connectionString: options.url, max: options.maxConnections ?? 10 });
  let store: SyncStore;
  try {
    store = createPostgresStore({
      pool,
      ...(options.schema ? { schema: options.schema } : {}),
      ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
      ...(options.preparedStatements !== undefined ? { preparedStatements: options.preparedStatements } : {}),
    });
    await migrate(pool, options.schema ?? 'crm_sync');
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw isSyncError(error) ? error : unavailable('postgres', error);
  }
  return {
    ...store,
    async close() {
      await store.close();
      await pool.end();
    },
  };
}
