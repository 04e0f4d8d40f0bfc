// The runner as one process for the peak RSS figures of the embedded store (item 3): adapter +
// engine + store, one cycle into STORE=embedded (DATA_DIR) or STORE=postgres (DATABASE_URL, SCHEMA),
// then one JSON line {records, ms}. Run with peak-rss.mjs preloaded and the runner's heap setting.
import pg from 'pg';
import type { SyncStore } from '@crm-sync/core';
import { createPostgresStore, migrate } from '@crm-sync/postgres-store';
import { createEmbeddedStore } from '@crm-sync/postgres-store/embedded';
import { createRunner, runCycleChecked } from '../lib/wiring.js';

const need = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`embedded/child.ts: ${name} is required`);
  return value;
};

let store: SyncStore;
let pool: pg.Pool | null = null;
if (process.env.STORE === 'embedded') {
  store = await createEmbeddedStore({ dataDir: need('DATA_DIR') });
} else {
  pool = new pg.Pool({ connectionString: need('DATABASE_URL'), max: 4 });
  await migrate(pool, need('SCHEMA'));
  store = createPostgresStore({ pool, schema: need('SCHEMA') });
}
const { engine } = createRunner({ url: need('SIMULATOR_URL'), store, entities: ['account', 'contact'] });
const outcome = await runCycleChecked(engine);
await engine.stop();
await store.close();
await pool?.end();
process.stdout.write(`${JSON.stringify({ records: outcome.records, ms: outcome.ms })}\n`);
