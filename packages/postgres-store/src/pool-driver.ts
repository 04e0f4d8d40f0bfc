import type { Pool, PoolClient } from 'pg';
import { SyncError } from '@crm-sync/core';
import type { SqlDriver, SqlSession, SqlStatement } from './sql.js';

export interface PoolDriverOptions {
  /**
   * Longest a transaction waits for a lock another transaction holds (PostgreSQL's `lock_timeout`);
   * it then fails and writes nothing. Default 30,000; 0 waits as long as it takes.
   */
  lockTimeoutMs?: number;
  /** Send named statements as prepared statements, parsed once per connection (default true). */
  preparedStatements?: boolean;
}

function invalid(option: string, rule: string, got: string): never {
  throw new SyncError('CONFIG_INVALID', `[postgres-store] ${option} must be ${rule} (got ${got})`, {
    details: { issues: [`${option}: must be ${rule}`] },
  });
}

/**
 * The SQL store's driver on a node-postgres pool the caller owns: several connections, so
 * transactions run at once, and several runners may share the database (leases).
 */
export function poolDriver(pool: Pool, options: PoolDriverOptions = {}): SqlDriver {
  const lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
  if (!Number.isInteger(lockTimeoutMs) || lockTimeoutMs < 0) invalid('lockTimeoutMs', 'a whole number of milliseconds, 0 or more', String(options.lockTimeoutMs));
  const prepared = options.preparedStatements ?? true;
  if (typeof prepared !== 'boolean') invalid('preparedStatements', 'true or false', JSON.stringify(options.preparedStatements));
  // One round trip: the transaction and its lock timeout (a validated integer) in one simple query.
  const begin = lockTimeoutMs > 0 ? `begin; set local lock_timeout = ${lockTimeoutMs}` : 'begin';

  const session = (client: Pool | PoolClient): SqlSession => ({
    async query<R>(statement: string | SqlStatement, values: readonly unknown[] = []) {
      const { text, name } = typeof statement === 'string' ? { text: statement, name: undefined } : statement;
      const config = prepared && name ? { name, text, values: [...values] } : { text, values: [...values] };
      const result = await client.query(config);
      return { rows: result.rows as R[], rowCount: result.rowCount ?? result.rows.length };
    },
    async exec(sql) {
      await client.query(sql);
    },
  });

  return {
    name: 'postgres',
    capabilities: { persistent: true, sharedAcrossProcesses: true, leases: true },
    concurrentTransactions: true,
    ...session(pool),
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query(begin);
        const result = await work(session(client));
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
  };
}
