// A minimal runner process for multi-runner and crash tests: the engine with the Dynamics adapter
// against a simulator URL and the PostgreSQL store (DATABASE_URL, SCHEMA) or, with STORE=embedded,
// the embedded store (DATA_DIR). Prints one JSON line per event.
//   MODE=loop (default): cycle every second until SIGTERM.
//   MODE=until-idle: run cycles until one pulls and pushes nothing, then exit 0.
//   CRASH_AT=<point>:<n>: SIGKILL itself at the n-th occurrence of a point:
//     before-commit  a page (or push result) is merged but not yet handed to the store
//     in-commit      the store's transaction has written everything but not committed
//     in-fanout      an account change has logged its activities, the contacts' update not yet run
//     after-crm-write the CRM applied a push, the store has not recorded it yet
import type { CrmAdapter, SyncStore } from '@crm-sync/core';
import { createSyncEngine } from '@crm-sync/core';
import { createDynamicsAdapter } from '@crm-sync/dynamics-adapter';
import { createSqlStore, poolDriver } from '@crm-sync/postgres-store';
import type { SqlDriver, SqlSession } from '@crm-sync/postgres-store';
import { createEmbeddedStore } from '@crm-sync/postgres-store/embedded';
import pg from 'pg';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`runner-process: ${name} is required`);
  return value;
};
const runnerId = env('RUNNER_ID');
const print = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ runner: runnerId, ...event })}\n`);

const [crashPoint, crashAt] = (process.env.CRASH_AT ?? ':').split(':');
const seen = new Map<string, number>();
function checkpoint(point: string): void {
  const n = (seen.get(point) ?? 0) + 1;
  seen.set(point, n);
  if (point === crashPoint && n === Number(crashAt)) {
    print({ type: 'crashing', point, n });
    process.kill(process.pid, 'SIGKILL');
  }
}

const embedded = process.env.STORE === 'embedded';
const pool = embedded ? null : new pg.Pool({ connectionString: env('DATABASE_URL'), max: 4 });

/** Kill points inside the store's transactions: once everything is written but not committed, and mid-fan-out. */
function instrument(driver: SqlDriver): SqlDriver {
  const transaction = driver.transaction.bind(driver);
  driver.transaction = (work) =>
    transaction(async (tx) => {
      const session: SqlSession = {
        exec: (sql) => tx.exec(sql),
        query: (statement, values) => {
          const text = typeof statement === 'string' ? statement : statement.text;
          if (text.includes('update') && text.includes('jsonb_to_recordset') && text.includes('company = r.company || f.company')) checkpoint('in-fanout');
          return tx.query(statement, values);
        },
      };
      const result = await work(session);
      checkpoint('in-commit');
      return result;
    });
  return driver;
}

let baseStore: SyncStore;
if (pool) {
  baseStore = createSqlStore(instrument(poolDriver(pool)), { schema: env('SCHEMA') });
} else {
  // A SIGKILLed predecessor leaves its lock behind: taken over here, as a restarted runner does.
  const opened = await createEmbeddedStore({ dataDir: env('DATA_DIR'), onNotice: (message) => print({ type: 'notice', message }) });
  instrument(opened.driver); // the driver the store runs on: its transactions are the store's
  baseStore = opened;
}
// The options go through: a chained commit that dropped `after` could land before the page it follows.
const store: SyncStore = { ...baseStore, commit: async (batch, options) => (checkpoint('before-commit'), baseStore.commit(batch, options)) };
const baseAdapter = createDynamicsAdapter({
  environmentUrl: env('SIMULATOR_URL'),
  auth: { kind: 'static-token', token: env('SIMULATOR_TOKEN') },
  pageSize: Number(process.env.PAGE_SIZE ?? 1_000),
});
const adapter: CrmAdapter = {
  ...baseAdapter,
  updateRecords: async (entity, updates) => {
    const results = await baseAdapter.updateRecords(entity, updates);
    checkpoint('after-crm-write');
    return results;
  },
  createRecords: async (entity, creates) => {
    const results = await baseAdapter.createRecords(entity, creates);
    checkpoint('after-crm-write');
    return results;
  },
};

const engine = createSyncEngine({
  adapter,
  store,
  runnerId,
  config: {
    intervalMs: 1_000,
    leaseTtlMs: Number(process.env.LEASE_TTL_MS ?? 3_000),
    pagesPerTurn: 2,
    entities: { systemuser: { enabled: false }, team: { enabled: false }, opportunity: { enabled: false } },
    customEntities: [],
  },
  onEvent: (event) => {
    if (event.type === 'page-applied') print({ type: event.type, entity: event.entity, pages: event.pages });
    if (event.type === 'cycle-finished') {
      print({ type: event.type, entities: event.summary.entities.map((e) => ({ entity: e.entity, status: e.status, pulled: e.pulled, pushed: e.pushed + e.created })) });
    }
  },
});

async function shutdown(code: number): Promise<never> {
  await engine.stop();
  await store.close();
  await pool?.end();
  print({ type: 'stopped' });
  process.exit(code);
}

process.on('SIGTERM', () => void shutdown(0));
print({ type: 'started' });
if (process.env.MODE === 'until-idle') {
  for (;;) {
    const summary = await engine.runCycle();
    const busy = summary.entities.some((e) => e.pulled + e.pushed + e.created + e.deleted + e.backfilled > 0);
    if (summary.entities.some((e) => e.status === 'failed')) {
      print({ type: 'failed', errors: summary.entities.filter((e) => e.error).map((e) => e.error) });
      await shutdown(1);
    }
    if (!busy) await shutdown(0);
  }
} else {
  engine.start();
}
