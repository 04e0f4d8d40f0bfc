import { parseArgs } from 'node:util';
import pg from 'pg';
import { migrate, migrations } from '@crm-sync/postgres-store';
import { SyncError } from '@crm-sync/core';
import { commonOptions, prepare } from '../cli/prepare.js';
import { EXIT, cliExit, writeJson } from '../cli/io.js';
import type { CliIo } from '../cli/io.js';

/** `crm-sync migrate`: applies the PostgreSQL store's pending migrations and says which. */
export async function migrateCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, options: { ...commonOptions, json: { type: 'boolean' } }, strict: true });
  const { loaded, logger } = prepare(io, values);
  const store = loaded.config.store;
  if (store.kind !== 'postgres') {
    throw cliExit(EXIT.usage, 'crm-sync migrate: the store is the memory store; set CRM_SYNC_DATABASE_URL (or store.kind "postgres" in the config) to use PostgreSQL');
  }
  const pool = new pg.Pool({ connectionString: loaded.secrets.databaseUrl, max: 1 });
  try {
    let applied: number[];
    try {
      applied = await migrate(pool, store.schema);
    } catch (error) {
      throw new SyncError('STORE_UNAVAILABLE', `Migration of schema ${store.schema} failed: ${(error as Error).message}`, { cause: error });
    }
    const names = new Map(migrations.map((m) => [m.version, m.name]));
    const latest = Math.max(0, ...migrations.map((m) => m.version));
    const list = applied.map((version) => ({ version, name: names.get(version) ?? '' }));
    logger.info('migrations applied', { schema: store.schema, applied });
    if (values.json) {
      writeJson(io, { schema: store.schema, applied: list, version: latest });
    } else if (list.length === 0) {
      io.stdout.write(`Schema ${store.schema} is up to date (version ${latest}).\n`);
    } else {
      io.stdout.write(`Applied ${list.length} migration${list.length === 1 ? '' : 's'} to schema ${store.schema}:\n`);
      for (const m of list) io.stdout.write(`  ${m.version} ${m.name}\n`);
    }
    return EXIT.ok;
  } finally {
    await pool.end().catch(() => undefined);
  }
}
