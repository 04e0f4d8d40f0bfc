import * as z from 'zod';
import { defineStorePlugin, SyncError } from '@crm-sync/core';
import type { PluginContext } from '@crm-sync/core';
import type { Pool } from 'pg';
import { envName } from '../config/schema.js';

const options = z.strictObject({
  /** Environment variable holding the database URL (default: CRM_SYNC_DATABASE_URL, then DATABASE_URL). */
  urlEnv: envName.optional(),
  schema: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a lowercase SQL identifier').default('crm_sync'),
  maxConnections: z.number().int().min(1).max(100).default(10),
  /** Named prepared statements; false behind a pooler that does not carry them between connections (PgBouncer in transaction mode before 1.21). */
  preparedStatements: z.boolean().default(true),
});
type PostgresOptions = z.output<typeof options>;

const HINTS = {
  store: 'Check CRM_SYNC_DATABASE_URL (host, port, user, password, database) and that PostgreSQL accepts connections from this machine.',
  migrations: 'Run crm-sync migrate (crm-sync start applies them too).',
};

/** The database URL from the environment, as the options name it. */
export function databaseUrlFrom(env: PluginContext['env'], urlEnv?: string): { value: string; from: string } | null {
  for (const name of urlEnv ? [urlEnv] : ['CRM_SYNC_DATABASE_URL', 'DATABASE_URL']) {
    const value = env[name];
    if (value) return { value, from: name };
  }
  return null;
}

const urlOf = (cfg: PostgresOptions, context: PluginContext) => databaseUrlFrom(context.env, cfg.urlEnv)?.value ?? '';

async function withPool<T>(cfg: PostgresOptions, context: PluginContext, max: number, use: (pool: Pool) => Promise<T>): Promise<T> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: urlOf(cfg, context), max, connectionTimeoutMillis: 10_000 });
  try {
    return await use(pool);
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** A PostgreSQL server: several runners may share it (leases); production. */
export const postgresPlugin = defineStorePlugin({
  type: 'store',
  name: 'postgres',
  description: 'a PostgreSQL server (production; several runners may share it)',
  options,
  capabilities: { persistent: true, leases: true },
  check(cfg, { env }) {
    const url = databaseUrlFrom(env, cfg.urlEnv);
    if (!url) return { problems: [`a PostgreSQL store needs a database URL in ${cfg.urlEnv ?? 'CRM_SYNC_DATABASE_URL or DATABASE_URL'}`] };
    if (!/^postgres(ql)?:\/\//.test(url.value)) return { problems: [`${url.from} must be a postgres:// or postgresql:// URL`] };
    const secrets = [url.value];
    try {
      const password = new URL(url.value).password;
      if (password) secrets.push(password, decodeURIComponent(password));
    } catch {
      // an unparsable URL is hidden whole
    }
    return { secrets };
  },
  describe: (cfg) => `postgres (schema ${cfg.schema})`,
  async open(cfg, context, open = {}) {
    const postgres = await import('@crm-sync/postgres-store');
    if (open.migrate !== false) {
      return postgres.connectPostgresStore({ url: urlOf(cfg, context), schema: cfg.schema, maxConnections: cfg.maxConnections, preparedStatements: cfg.preparedStatements });
    }
    // Read without touching the schema (status): the pool is the store's to end.
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: urlOf(cfg, context), max: 2 });
    const store = postgres.createPostgresStore({ pool, schema: cfg.schema, preparedStatements: cfg.preparedStatements });
    return { ...store, close: async () => { await store.close(); await pool.end(); } };
  },
  async migrate(cfg, context) {
    const { migrate, migrations } = await import('@crm-sync/postgres-store');
    return withPool(cfg, context, 1, async (pool) => {
      let applied: number[];
      try {
        applied = await migrate(pool, cfg.schema);
      } catch (error) {
        throw new SyncError('STORE_UNAVAILABLE', `Migration of schema ${cfg.schema} failed: ${(error as Error).message}`, { cause: error });
      }
      const names = new Map(migrations.map((m) => [m.version, m.name]));
      return {
        where: `schema ${cfg.schema}`,
        applied: applied.map((version) => ({ version, name: names.get(version) ?? '' })),
        version: Math.max(0, ...migrations.map((m) => m.version)),
        details: { schema: cfg.schema },
      };
    });
  },
  transfer: {
    async export(cfg, context, out) {
      const { exportData, poolDriver } = await import('@crm-sync/postgres-store');
      return withPool(cfg, context, 1, (pool) => exportData({ driver: poolDriver(pool, { preparedStatements: cfg.preparedStatements }), schema: cfg.schema }, out));
    },
    async import(cfg, context, input) {
      const { importData, poolDriver } = await import('@crm-sync/postgres-store');
      return withPool(cfg, context, 1, (pool) => importData({ driver: poolDriver(pool, { preparedStatements: cfg.preparedStatements }), schema: cfg.schema }, input));
    },
  },
  async health(cfg, context) {
    const { migrations } = await import('@crm-sync/postgres-store');
    try {
      return await withPool(cfg, context, 1, async (pool) => {
        await pool.query('select 1');
        const exists = await pool.query<{ t: string | null }>('select to_regclass($1) as t', [`${cfg.schema}.schema_migrations`]);
        const applied = exists.rows[0]?.t
          ? new Set((await pool.query<{ version: number }>(`select version from "${cfg.schema}".schema_migrations`)).rows.map((r) => r.version))
          : new Set<number>();
        const pending = migrations.filter((m) => !applied.has(m.version));
        return pending.length > 0
          ? { status: 'warn' as const, detail: `PostgreSQL reachable; ${pending.length} migration(s) pending in schema ${cfg.schema}`, hint: HINTS.migrations }
          : { status: 'pass' as const, detail: `PostgreSQL reachable; schema ${cfg.schema} up to date` };
      });
    } catch (error) {
      return { status: 'fail', detail: `PostgreSQL not reachable: ${(error as Error).message}`, hint: HINTS.store };
    }
  },
});
