/**
 * One runner process for the memory figure: adapter + engine + PostgreSQL store, against a
 * simulator in another process. `idle` wires everything and reads the field plans, then does
 * nothing; `sync` runs one full cycle. Prints its peak RSS (VmHWM) as JSON.
 */
import { createPostgresStore, migrate } from '@crm-sync/postgres-store';
import pg from 'pg';
import type { BenchEntity } from '../lib/wiring.js';
import { createRunner, runCycleChecked } from '../lib/wiring.js';

export interface MemoryChildInput {
  simulatorUrl: string;
  databaseUrl: string;
  schema: string;
  mode: 'idle' | 'sync';
  entities: BenchEntity[];
}

export interface MemoryChildOutput {
  peakRssMb: number;
  records: number;
  ms: number;
}

const input = JSON.parse(process.argv[2] ?? '{}') as MemoryChildInput;
const pool = new pg.Pool({ connectionString: input.databaseUrl, max: 4 });
await migrate(pool, input.schema);
const store = createPostgresStore({ pool, schema: input.schema });
const { engine } = createRunner({ url: input.simulatorUrl, store, entities: input.entities });
let result = { records: 0, ms: 0 };
if (input.mode === 'sync') result = await runCycleChecked(engine);
else for (const entity of input.entities) await engine.fieldPlan(entity);
await engine.stop(); // hands the leases back, so the next runner on this schema starts at once
await pool.end();
const output: MemoryChildOutput = { peakRssMb: process.resourceUsage().maxRSS / 1024, records: result.records, ms: result.ms };
process.stdout.write(`${JSON.stringify(output)}\n`);
