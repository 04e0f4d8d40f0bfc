import { parseArgs } from 'node:util';
import { commonOptions, prepare } from '../cli/prepare.js';
import { EXIT, cliExit, writeJson } from '../cli/io.js';
import type { CliIo } from '../cli/io.js';
import { pluginContext } from '../config/load.js';
import { pluginLog } from '../wiring/crm.js';
import { describeStore } from '../wiring/store.js';

/** `crm-sync migrate`: applies the store's pending schema changes (its plugin's `migrate`) and says which. */
export async function migrateCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, options: { ...commonOptions, json: { type: 'boolean' } }, strict: true });
  const { loaded, logger } = await prepare(io, values);
  const plugin = loaded.plugins.store;
  if (!plugin.migrate) {
    const registry = loaded.plugins.registry;
    const withSchema = registry.names('store').filter((name) => registry.store(name)?.migrate);
    throw cliExit(
      EXIT.usage,
      `crm-sync migrate: the store ${describeStore(loaded)} has no schema to migrate; stores with one: ${withSchema.join(', ')} (store.kind in the config; a database URL in CRM_SYNC_DATABASE_URL selects PostgreSQL)`,
    );
  }
  const result = await plugin.migrate(loaded.config.store, pluginContext(loaded, pluginLog(logger, plugin.name)));
  logger.info('migrations applied', { where: result.where, applied: result.applied.map((m) => m.version) });
  if (values.json) {
    writeJson(io, { ...result.details, applied: result.applied, version: result.version });
  } else if (result.applied.length === 0) {
    io.stdout.write(`${result.where.charAt(0).toUpperCase()}${result.where.slice(1)} is up to date (version ${result.version}).\n`);
  } else {
    io.stdout.write(`Applied ${result.applied.length} migration${result.applied.length === 1 ? '' : 's'} to ${result.where}:\n`);
    for (const m of result.applied) io.stdout.write(`  ${m.version} ${m.name}\n`);
  }
  return EXIT.ok;
}
