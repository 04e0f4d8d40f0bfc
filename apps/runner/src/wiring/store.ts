import type { SyncStore } from '@crm-sync/core';
import type { LoadedConfig } from '../config/load.js';
import { pluginContext } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import { pluginLog } from './crm.js';

/** The store from the config, through its plugin (pending migrations are applied unless `migrate` is false). */
export async function openStore(loaded: LoadedConfig, options: { logger?: Logger; migrate?: boolean } = {}): Promise<SyncStore> {
  const plugin = loaded.plugins.store;
  const context = pluginContext(loaded, pluginLog(options.logger, plugin.name));
  return plugin.open(loaded.config.store, context, options.migrate === false ? { migrate: false } : {});
}

/** Human description of the configured store, without secrets. */
export function describeStore(loaded: Pick<LoadedConfig, 'plugins' | 'config'>): string {
  return loaded.plugins.store.describe(loaded.config.store);
}
