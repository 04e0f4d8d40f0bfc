import { createHash } from 'node:crypto';
import type { StoreCapabilities } from '@crm-sync/core';
import { SyncError } from '@crm-sync/core';

/**
 * The one thing the SQL store needs from a PostgreSQL connection, whatever carries it: a node-postgres
 * pool (`poolDriver`) or PGlite in this process (`pgliteDriver`). Same SQL, same migrations.
 */

/** A statement; `name` lets a driver that prepares statements parse it once per connection. */
export interface SqlStatement {
  text: string;
  name?: string;
}

export interface SqlResult<R> {
  rows: R[];
  /** Rows returned, or written by an INSERT/UPDATE/DELETE without RETURNING. */
  rowCount: number;
}

/** Where statements run: the driver (each statement on its own) or one open transaction. */
export interface SqlSession {
  query<R = Record<string, unknown>>(statement: string | SqlStatement, values?: readonly unknown[]): Promise<SqlResult<R>>;
  /** Several statements separated by semicolons, without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface SqlDriver extends SqlSession {
  /** The store's name (`postgres`, `embedded`); errors start with `[<name>-store]`. */
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  /**
   * Transactions run at once, each on a connection of its own: a chained commit may write its new
   * records before the commit it follows is written. False on one connection, where a transaction
   * waiting for another that cannot start would wait for ever.
   */
  readonly concurrentTransactions: boolean;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: SqlSession) => Promise<T>): Promise<T>;
  /** Releases what the driver opened itself (never a pool or database handed to it). */
  close?(): Promise<void>;
}

/** STORE_UNAVAILABLE naming the store, with the driver's error as the cause. */
export function unavailable(name: string, error: unknown): SyncError {
  const message = error instanceof Error ? error.message : String(error);
  return new SyncError('STORE_UNAVAILABLE', `[${name}-store] ${message}`, { cause: error });
}

/**
 * A named statement: a driver that prepares statements parses it once per connection instead of on
 * every call. Named by its text, so stores on other schemas sharing a pool do not collide.
 */
export function statement(text: string): SqlStatement {
  return { name: `crm_sync_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`, text };
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
