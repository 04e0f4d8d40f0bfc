import * as z from 'zod';
import { syncConfigSchema } from '@crm-sync/core';

/** Secrets never sit in the file: it names the environment variable that holds them. */
export const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable (letters, digits, "_")');

/**
 * A CRM side or a store as the config names it: `kind` selects a plugin (built in, or from
 * `plugins`), and the other keys are that plugin's options, validated by its own schema once the
 * plugins are loaded (config/load.ts).
 */
const pluginSelection = z.looseObject({
  kind: z.string({ error: 'must name a plugin (a string)' }).min(1, 'must name a plugin'),
});

/**
 * The CRM side: its plugin's options, plus what the runner itself does with any CRM. The keys of
 * `CRM_RUNNER_KEYS` are the runner's and never reach the plugin.
 */
const crmSelection = pluginSelection.extend({
  /**
   * The most requests crm-sync may send to the CRM per rolling 24 hours, every runner on the store
   * together (its share of the org's daily entitlement): from 80% on cycles come further apart, once
   * spent none starts until the window frees room. Unset: counted, not capped.
   */
  dailyRequestBudget: z
    .number({ error: 'must be a whole number of requests per 24 hours' })
    .int('must be a whole number of requests per 24 hours')
    .min(1, 'must be at least 1 (leave it out for no cap)')
    .optional(),
});

/** Keys of the `crm` section the runner keeps for itself (beside `kind`). */
export const CRM_RUNNER_KEYS = ['dailyRequestBudget'] as const;

const serverSchema = z.strictObject({
  /** Bind address; anything but loopback requires an API token. */
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 = any free port. */
  port: z.number().int().min(0).max(65_535).default(8787),
  /** Environment variable holding the bearer token of the API. */
  apiTokenEnv: envName.default('CRM_SYNC_API_TOKEN'),
  /** Request bodies above this many bytes get 413. */
  maxBodyBytes: z.number().int().min(1_024).max(100_000_000).default(1_000_000),
});

const logSchema = z.strictObject({
  level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** auto: human lines on a terminal, JSON lines otherwise. */
  format: z.enum(['auto', 'json', 'text']).default('auto'),
});

const runnerSchema = z.strictObject({
  /**
   * A stable name for this runner (lease owner). Restarted after a crash under the same id, it takes
   * its entity leases back at once instead of waiting for them to expire. Unique per database.
   */
  id: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be 1 to 100 letters, digits, dots, dashes or underscores').optional(),
});

/** The runner's configuration file (JSON), after env overrides. Unknown keys are errors. */
export const runnerConfigSchema = z.strictObject({
  /** Editors' JSON schema hint; ignored. */
  $schema: z.string().optional(),
  /** Plugin modules to load (paths relative to the config file, or package names); the built-ins need none. */
  plugins: z.array(z.string().min(1, 'must be a path or a package name')).default([]),
  /** Defaults (config/defaults in the built-ins) are filled in before validation. */
  crm: crmSelection,
  store: pluginSelection,
  sync: syncConfigSchema.prefault({}),
  server: serverSchema.prefault({}),
  log: logSchema.prefault({}),
  runner: runnerSchema.prefault({}),
});

export type RunnerConfigInput = z.input<typeof runnerConfigSchema>;
export type RunnerConfig = z.output<typeof runnerConfigSchema>;
/** A plugin's validated options, with the `kind` that selected it (and for the CRM, the runner's own keys). */
export type PluginOptions = { kind: string } & Record<string, unknown>;

/** The options the CRM plugin gets: the `crm` section without the runner's own keys. */
export function crmPluginOptions(crm: PluginOptions): PluginOptions {
  const options: PluginOptions = { ...crm };
  for (const key of CRM_RUNNER_KEYS) delete options[key];
  return options;
}

/** `crm.dailyRequestBudget`, or null when not set. */
export function dailyRequestBudget(crm: PluginOptions): number | null {
  return typeof crm.dailyRequestBudget === 'number' ? crm.dailyRequestBudget : null;
}
export type LogLevel = RunnerConfig['log']['level'];
