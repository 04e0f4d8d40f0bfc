import type * as z from 'zod';
import type { CustomEntityInput } from '../entities.js';
import type { SyncEngine } from '../engine/engine.js';
import type { CrmAdapter } from './crm.js';
import type { StoreCapabilities, SyncStore } from './store.js';

/**
 * How a CRM adapter or a store is packaged for a runner (the reference runner, `crm-sync`, loads
 * them by name from its config). A plugin module's default export is one definition, made with
 * `defineCrmPlugin` or `defineStorePlugin` (or an array of them). The config selects it with
 * `"kind": "<name>"` beside the plugin's own options, which the plugin's zod schema validates:
 *
 *   { "plugins": ["./my-store.js"], "store": { "kind": "my-store", "file": "./data.json" } }
 *
 * This file is the whole contract a plugin author implements beyond `CrmAdapter` (contracts/crm.ts)
 * or `SyncStore` (contracts/store.ts).
 */

/** What a runner gives a plugin. */
export interface PluginContext {
  /** The config file's directory (the working directory without one): resolve relative paths in options against it. */
  baseDir: string;
  /** The process environment. Secrets come from here, by the variable names the options give, never from the config file. */
  env: Readonly<Record<string, string | undefined>>;
  /** A line for the runner's log. */
  log(level: 'debug' | 'info' | 'warn', message: string, fields?: Record<string, unknown>): void;
}

/** What a plugin finds wrong with its options in this environment, and the values to hide in logs. */
export interface PluginCheck {
  /** One `option: problem` line each (e.g. `clientSecretEnv: environment variable X is not set`). */
  problems?: string[];
  /** Secret values to redact from every log line and error (a client secret, a database password). */
  secrets?: string[];
}

/**
 * CRM traffic as a runner's metrics and logs count it. A CRM plugin maps its adapter's own events to
 * these (`request`: one HTTP request and its status, 0 when nothing answered; `throttled`: the CRM
 * asked to slow down; `retry`: a request sent again; `checkpoint-reset`: a change token refused, a
 * full read follows; `token`: an access token was obtained).
 *
 * A `request` also carries, when the CRM says: `operations`, what the CRM's daily request limits
 * count it as when more than 1 (a batch counts each operation inside; the runner's daily request
 * budget counts it so); `parallelism`, the parallel requests the CRM recommends (Dataverse
 * `x-ms-dop-hint`); `concurrency`, the requests the adapter allows in flight after it.
 */
export type CrmTrafficEvent =
  | { type: 'request'; status: number; method?: string; path?: string; durationMs?: number; operations?: number; parallelism?: number; concurrency?: number }
  | { type: 'throttled'; retryAfterMs: number; path?: string }
  | { type: 'retry'; reason: string }
  | { type: 'checkpoint-reset'; entity: string; reason: string }
  | { type: 'token' };

/** A connected CRM side. */
export interface CrmConnection {
  adapter: CrmAdapter;
  /** Where it is connected, for status, logs and the dashboard; never a secret. */
  url: string;
  /** Rows of an entity in the CRM when known cheaply (a simulator), for progress estimates. */
  total?(entity: string): number | undefined;
  /** Secrets learned while connecting (credentials a server handed out), to redact. */
  secrets?: string[];
  /**
   * Work that runs beside a long-running runner's scheduler (`crm-sync start`), e.g. a simulator's
   * simulated sales staff. Stopped before the engine.
   */
  startBeside?(engine: SyncEngine, context: PluginContext): { stop(): Promise<void> };
  close(): Promise<void>;
}

export interface CrmConnectOptions {
  context: PluginContext;
  /** The adapter's traffic, mapped to `CrmTrafficEvent`s. */
  onEvent?(event: CrmTrafficEvent): void;
  /** A short check (doctor): small pages and a short retry budget. */
  quick?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a plugin's options are whatever its schema says
type AnyObjectSchema = z.ZodType<any, any>;

export interface CrmPlugin<Schema extends AnyObjectSchema = AnyObjectSchema> {
  type: 'crm';
  /** The name the config's `crm.kind` selects it by. */
  name: string;
  /** One line for `crm-sync --help` and errors that list the known plugins. */
  description: string;
  /** The options beside `kind` (an object schema; unknown keys should be refused: `z.strictObject`). */
  options: Schema;
  /** Checks the environment the options depend on (secrets), when the config loads. */
  check?(options: z.output<Schema>, context: PluginContext): PluginCheck;
  /** A short description of the configured side (`Dynamics https://contoso.crm.dynamics.com`). */
  describe(options: z.output<Schema>): string;
  connect(options: z.output<Schema>, connect: CrmConnectOptions): Promise<CrmConnection>;
  /** Entities this CRM adds to the registry beside the built-ins (the config's custom entities come on top, and win by name). */
  entities?: readonly CustomEntityInput[];
  /** What to check when a doctor step fails with this error code (e.g. `CRM_AUTH_FAILED`). */
  hints?: Readonly<Record<string, string>>;
}

/** What `crm-sync migrate` did. */
export interface MigrationResult {
  /** Where (a schema, a directory). */
  where: string;
  applied: Array<{ version: number; name: string }>;
  /** The latest version there is. */
  version: number;
  /** More for `crm-sync migrate --json` (e.g. `{ schema }`). */
  details?: Record<string, unknown>;
}

/** A store's health for `crm-sync doctor`. */
export interface StoreHealth {
  status: 'pass' | 'warn' | 'fail';
  detail: string;
  hint?: string;
}

export interface StorePlugin<Schema extends AnyObjectSchema = AnyObjectSchema> {
  type: 'store';
  name: string;
  description: string;
  options: Schema;
  /**
   * What a runner can decide before opening it: `persistent` (data outlives the process: `status`
   * reads it without a runner, and a restart resumes), `leases` (several runners may share it).
   */
  capabilities: Pick<StoreCapabilities, 'persistent' | 'leases'>;
  check?(options: z.output<Schema>, context: PluginContext): PluginCheck;
  describe(options: z.output<Schema>): string;
  /** Opens the store; with `migrate` (the default) it first brings its schema up to date. */
  open(options: z.output<Schema>, context: PluginContext, open?: { migrate?: boolean }): Promise<SyncStore>;
  /** Applies pending schema changes (`crm-sync migrate`); stores without a schema leave it out. */
  migrate?(options: z.output<Schema>, context: PluginContext): Promise<MigrationResult>;
  /** Reachability and schema state for `crm-sync doctor` (default: open and close it). */
  health?(options: z.output<Schema>, context: PluginContext): Promise<StoreHealth>;
  /**
   * Moving the data to another store (`crm-sync export` and `import`): the whole store as a stream
   * of lines another store of the same family reads back; rows per table are returned.
   */
  transfer?: {
    export(options: z.output<Schema>, context: PluginContext, out: NodeJS.WritableStream): Promise<Record<string, number>>;
    /** Into an empty store only (refused, nothing written, otherwise). */
    import(options: z.output<Schema>, context: PluginContext, input: NodeJS.ReadableStream): Promise<Record<string, number>>;
  };
}

export type Plugin = CrmPlugin | StorePlugin;

/** Identity functions that type a plugin definition (its options from its schema). */
export function defineCrmPlugin<Schema extends AnyObjectSchema>(plugin: CrmPlugin<Schema>): CrmPlugin<Schema> {
  return plugin;
}

export function defineStorePlugin<Schema extends AnyObjectSchema>(plugin: StorePlugin<Schema>): StorePlugin<Schema> {
  return plugin;
}
