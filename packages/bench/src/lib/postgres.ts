import pg from 'pg';
import type { Pool } from 'pg';
import { createPostgresStore, migrate } from '@crm-sync/postgres-store';
import type { SyncStore } from '@crm-sync/core';

/** Statements a pool sent, by their first words, with the time until each answer. */
export interface StatementLog {
  total(): number;
  /** Count and milliseconds per statement kind (first words of the SQL). */
  byKind(): Map<string, { count: number; ms: number }>;
  reset(): void;
}

function createStatementLog(): StatementLog & { add(sql: string, ms: number): void } {
  let kinds = new Map<string, { count: number; ms: number }>();
  return {
    add(sql, ms) {
      const kind = sql.replace(/\s+/g, ' ').trim().slice(0, 48);
      const entry = kinds.get(kind) ?? { count: 0, ms: 0 };
      entry.count += 1;
      entry.ms += ms;
      kinds.set(kind, entry);
    },
    total: () => [...kinds.values()].reduce((sum, k) => sum + k.count, 0),
    byKind: () => new Map(kinds),
    reset() {
      kinds = new Map();
    },
  };
}

type QueryArgs = [unknown, ...unknown[]];

/**
 * A pool whose clients log every statement they send: pool.query and transactions on
 * pool.connect() both go through Client#query, in its promise and callback forms.
 */
export function countingPool(url: string, max = 4): { pool: Pool; statements: StatementLog } {
  const statements = createStatementLog();
  class CountingClient extends pg.Client {
    override query(...args: QueryArgs): never {
      const [config] = args;
      const sql = typeof config === 'string' ? config : ((config as { text?: string } | null)?.text ?? '');
      const started = performance.now();
      const done = () => statements.add(sql, performance.now() - started);
      const last = args[args.length - 1];
      if (typeof last === 'function') {
        const callback = last as (...result: unknown[]) => void;
        args[args.length - 1] = (...result: unknown[]) => {
          done();
          callback(...result);
        };
        return (super.query as (...a: unknown[]) => never)(...args);
      }
      const result = (super.query as (...a: unknown[]) => unknown)(...args);
      if (result instanceof Promise) void result.then(done, done);
      return result as never;
    }
  }
  const pool = new pg.Pool({ connectionString: url, max, Client: CountingClient });
  return { pool, statements };
}

/** A PostgreSQL store on a fresh schema of the pool's database. */
export async function freshPostgresStore(pool: Pool, schema: string): Promise<SyncStore> {
  await pool.query(`drop schema if exists "${schema}" cascade`);
  await migrate(pool, schema);
  return createPostgresStore({ pool, schema });
}

/** A store on a schema that is already migrated and synced (by a runner process). */
export function postgresStore(pool: Pool, schema: string): SyncStore {
  return createPostgresStore({ pool, schema });
}
