import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import * as z from 'zod';
import { defineStorePlugin } from '@crm-sync/core';
import type { PluginContext } from '@crm-sync/core';

const options = z.strictObject({
  /** The data directory (relative to the config file); created owner-only (0700). */
  dataDir: z.string().min(1, 'must be a directory path').default('./.crm-sync/data'),
  schema: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a lowercase SQL identifier').default('crm_sync'),
});
type EmbeddedOptions = z.output<typeof options>;

const dirOf = (cfg: EmbeddedOptions, context: PluginContext) => resolve(context.baseDir, cfg.dataDir);

async function openEmbedded(cfg: EmbeddedOptions, context: PluginContext) {
  const { createEmbeddedStore } = await import('@crm-sync/postgres-store/embedded');
  return createEmbeddedStore({ dataDir: dirOf(cfg, context), schema: cfg.schema, onNotice: (message) => context.log('warn', message) });
}

/** PostgreSQL inside the runner's process (PGlite), persistent in a data directory: a runner without a database server. */
export const embeddedPlugin = defineStorePlugin({
  type: 'store',
  name: 'embedded',
  description: 'PostgreSQL in the runner\'s process, kept in a data directory (one runner; no server)',
  options,
  // One process owns the directory (a lock file), so there is nothing to share: no leases.
  capabilities: { persistent: true, leases: false },
  describe: (cfg) => `embedded (${cfg.dataDir})`,
  async open(cfg, context) {
    // Pending migrations are applied as it opens; a read-only open would gain nothing here.
    return openEmbedded(cfg, context);
  },
  async migrate(cfg, context) {
    const { migrations } = await import('@crm-sync/postgres-store/embedded');
    const store = await openEmbedded(cfg, context);
    await store.close();
    const names = new Map(migrations.map((m) => [m.version, m.name]));
    return {
      where: `the data directory ${dirOf(cfg, context)}`,
      applied: store.migrated.map((version) => ({ version, name: names.get(version) ?? '' })),
      version: Math.max(0, ...migrations.map((m) => m.version)),
      details: { dataDir: dirOf(cfg, context), schema: cfg.schema },
    };
  },
  async health(cfg, context) {
    const dir = dirOf(cfg, context);
    if (!existsSync(dir)) return { status: 'pass', detail: `embedded store: ${dir} does not exist yet; the first start creates it` };
    try {
      const store = await openEmbedded(cfg, context);
      await store.close();
      return { status: 'pass', detail: `embedded store in ${dir} opens; schema ${cfg.schema} up to date` };
    } catch (error) {
      return {
        status: 'fail',
        detail: `embedded store in ${dir}: ${(error as Error).message}`,
        hint: 'A running runner holds the data directory: stop it, or ask it (crm-sync status). Otherwise check the directory\'s owner and permissions.',
      };
    }
  },
  transfer: {
    async export(cfg, context, out) {
      const { exportData } = await import('@crm-sync/postgres-store/embedded');
      const store = await openEmbedded(cfg, context);
      try {
        return await exportData(store, out);
      } finally {
        await store.close();
      }
    },
    async import(cfg, context, input) {
      const { importData } = await import('@crm-sync/postgres-store/embedded');
      const store = await openEmbedded(cfg, context);
      try {
        return await importData(store, input);
      } finally {
        await store.close();
      }
    },
  },
});
