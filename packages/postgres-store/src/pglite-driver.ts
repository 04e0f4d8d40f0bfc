import type { PGlite } from '@electric-sql/pglite';
import type { SqlDriver, SqlSession, SqlStatement } from './sql.js';

/**
 * The SQL store's driver on PGlite (PostgreSQL compiled to WebAssembly, in this process). PGlite is
 * one connection: a statement sent while a transaction is open would run inside that transaction, so
 * every statement and every transaction waits its turn in one queue. Work inside a transaction must
 * use the session it is given (the driver itself would wait for the transaction: for ever).
 * Statement names are ignored: PGlite parses each statement anew (there is no network round trip to
 * save). The caller owns `db`; the driver never closes it.
 */
export function pgliteDriver(db: PGlite): SqlDriver {
  let last: Promise<unknown> = Promise.resolve();
  function inTurn<T>(work: () => Promise<T>): Promise<T> {
    const run = last.then(work);
    last = run.catch(() => undefined);
    return run;
  }

  const session: SqlSession = {
    async query<R>(statement: string | SqlStatement, values: readonly unknown[] = []) {
      const result = await db.query<R>(typeof statement === 'string' ? statement : statement.text, [...values]);
      // Statements with a result (RETURNING, SELECT) count their rows; others what they wrote.
      return { rows: result.rows, rowCount: result.fields.length > 0 ? result.rows.length : (result.affectedRows ?? 0) };
    },
    async exec(sql) {
      await db.exec(sql);
    },
  };

  const dataDir = db.dataDir ?? '';
  return {
    name: 'embedded',
    capabilities: {
      persistent: dataDir !== '' && !dataDir.startsWith('memory://'),
      // One process: PGlite's files are its own while it runs (a second instance on the same
      // directory loses the first one's writes), so there is nobody to share entities with and no
      // lease to take; the embedded store refuses a second opener with a lock file instead.
      sharedAcrossProcesses: false,
      leases: false,
    },
    concurrentTransactions: false,
    query: (statement, values) => inTurn(() => session.query(statement, values)),
    exec: (sql) => inTurn(() => session.exec(sql)),
    transaction: (work) =>
      inTurn(async () => {
        await db.exec('begin');
        try {
          const result = await work(session);
          await db.exec('commit');
          return result;
        } catch (error) {
          await db.exec('rollback').catch(() => undefined);
          throw error;
        }
      }),
  };
}
