import type { CrmConnection, CrmTrafficEvent } from '@crm-sync/core';
import type { LoadedConfig } from '../config/load.js';
import { pluginContext } from '../config/load.js';
import { crmPluginOptions } from '../config/schema.js';
import type { Logger } from '../log/logger.js';

export interface ConnectCrmOptions {
  logger?: Logger;
  onEvent?: (event: CrmTrafficEvent) => void;
  /** A short check (doctor): small pages, a short retry budget. */
  quick?: boolean;
}

/** The plugin's log lines go to the runner's logger, tagged with the plugin. */
export function pluginLog(logger: Logger | undefined, plugin: string) {
  return (level: 'debug' | 'info' | 'warn', message: string, fields: Record<string, unknown> = {}) => logger?.[level](message, { plugin, ...fields });
}

/** The CRM side from the config, through its plugin. */
export async function connectCrm(loaded: LoadedConfig, options: ConnectCrmOptions = {}): Promise<CrmConnection> {
  const plugin = loaded.plugins.crm;
  const context = pluginContext(loaded, pluginLog(options.logger, plugin.name));
  return plugin.connect(crmPluginOptions(loaded.config.crm), {
    context,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(options.quick ? { quick: true } : {}),
  });
}

/** Human description of the configured CRM side, without secrets. */
export function describeCrm(loaded: LoadedConfig): string {
  return loaded.plugins.crm.describe(crmPluginOptions(loaded.config.crm));
}
