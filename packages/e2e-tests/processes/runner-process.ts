// A minimal runner process for multi-runner tests: the engine with the Dynamics adapter against a
// simulator URL and the PostgreSQL store, cycling until SIGTERM. Prints one JSON line per event.
import { createSyncEngine } from '@crm-sync/core';
import { createDynamicsAdapter } from '@crm-sync/dynamics-adapter';
import { createPostgresStore } from '@crm-sync/postgres-store';
import pg from 'pg';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`runner-process: ${name} is required`);
  return value;
};

const pool = new pg.Pool({ connectionString: env('DATABASE_URL'), max: 4 });
const store = createPostgresStore({ pool, schema: env('SCHEMA') });
const adapter = createDynamicsAdapter({
  environmentUrl: env('SIMULATOR_URL'),
  auth: { kind: 'static-token', token: env('SIMULATOR_TOKEN') },
  pageSize: Number(process.env.PAGE_SIZE ?? 1_000),
});
const runnerId = env('RUNNER_ID');
const print = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ runner: runnerId, ...event })}\n`);
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
      print({ type: event.type, entities: event.summary.entities.map((e) => ({ entity: e.entity, status: e.status, pulled: e.pulled })) });
    }
  },
});

process.on('SIGTERM', () => {
  void (async () => {
    await engine.stop();
    await pool.end();
    print({ type: 'stopped' });
    process.exit(0);
  })();
});
print({ type: 'started' });
engine.start();
