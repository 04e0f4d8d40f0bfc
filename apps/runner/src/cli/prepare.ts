import { loadConfig, secretValues } from '../config/load.js';
import type { LoadedConfig } from '../config/load.js';
import type { Override } from '../config/env.js';
import { createLogger } from '../log/logger.js';
import type { Logger } from '../log/logger.js';
import type { Redactor } from '../log/redactor.js';
import type { CliIo } from './io.js';

export interface Prepared {
  loaded: LoadedConfig;
  logger: Logger;
  redactor: Redactor;
}

export interface PrepareOptions {
  config?: string | undefined;
  'log-level'?: string | undefined;
  store?: string | undefined;
  /** Extra flag overrides (e.g. --port). */
  flags?: Override[];
}

/** Loads and validates the config, and builds the redactor and the logger every command uses. */
export async function prepare(io: CliIo, options: PrepareOptions): Promise<Prepared> {
  const flags: Override[] = [...(options.flags ?? [])];
  if (options['log-level']) flags.push({ path: ['log', 'level'], value: options['log-level'], from: '--log-level' });
  if (options.store) flags.push({ path: ['store', 'kind'], value: options.store, from: '--store' });
  const loaded = await loadConfig({ ...(options.config ? { path: options.config } : {}), env: io.env, flags, cwd: io.cwd });
  const redactor = io.redactor;
  redactor.add(...secretValues(loaded.secrets));
  const format = loaded.config.log.format === 'auto' ? (io.stderr.isTTY ? 'text' : 'json') : loaded.config.log.format;
  const logger = createLogger({ level: loaded.config.log.level, format, stream: io.stderr, redactor });
  return { loaded, logger, redactor };
}

/** Options every command accepts. */
export const commonOptions = {
  config: { type: 'string', short: 'c' },
  'log-level': { type: 'string' },
  store: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
