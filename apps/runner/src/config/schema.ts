import * as z from 'zod';
import { syncConfigSchema } from '@crm-sync/core';

/** Secrets never sit in the file: it names the environment variable that holds them. */
const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable (letters, digits, "_")');
const count = z.number().int().min(0);
/** Rows per page asked of the CRM (Dataverse caps a page at 5,000). */
const pageSize = z.number().int().min(1).max(5_000).default(5_000);

const dynamicsSchema = z.strictObject({
  kind: z.literal('dynamics'),
  /** e.g. https://contoso.crm.dynamics.com (no path). */
  environmentUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL like https://contoso.crm.dynamics.com' }),
  /** Directory (tenant) id of the Entra app registration. */
  tenantId: z.string().min(1, 'must not be empty'),
  /** Application (client) id of the Entra app registration. */
  clientId: z.string().min(1, 'must not be empty'),
  /** Environment variable holding the client secret. */
  clientSecretEnv: envName.default('CRM_SYNC_CLIENT_SECRET'),
  /** Entra authority host; sovereign clouds use another one. */
  authorityHost: z.url({ protocol: /^https$/, error: 'must be an https URL' }).optional(),
  /** Web API path (default /api/data/v9.2). */
  apiPath: z.string().optional(),
  pageSize,
  /** Requests in flight at once (Dataverse allows 52 per user). */
  maxConcurrency: z.number().int().min(1).max(51).optional(),
  /** Per-request timeout and retry budget (milliseconds). */
  requestTimeoutMs: z.number().int().min(1).optional(),
  retryBudgetMs: z.number().int().min(0).optional(),
});

const salesStaffEditsSchema = z.strictObject({
  /** Pause between two simulated CRM edits by sales staff. */
  everyMs: z.number().int().min(100).default(4_000),
});

const simulatorSchema = z.strictObject({
  kind: z.literal('simulator'),
  /** A running standalone simulator (`crm-sync simulator`); without it one starts in this process. */
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** How the adapter signs in: OAuth client credentials through MSAL, or the static bearer token. */
  auth: z.enum(['client-credentials', 'static-token']).default('client-credentials'),
  pageSize,
  /** In-process simulator only: the seeded data. */
  seed: count.default(1),
  contacts: count.default(12_000),
  accounts: count.optional(),
  leads: count.optional(),
  opportunities: count.optional(),
  memberships: count.optional(),
  /** Contact counts of the first accounts (default: one account above the 5,000 threshold). */
  largeAccounts: z.array(count).optional(),
  /** Service protection limits of the simulated org (default on). */
  limits: z.boolean().default(true),
  /** `start` only: simulated sales staff edit CRM rows now and then; false turns it off. */
  salesStaffEdits: z.union([z.literal(false), salesStaffEditsSchema]).default({ everyMs: 4_000 }),
  /**
   * Client credentials of your own instead of the simulator's (to try wrong ones, as with a real
   * org): each one given replaces the simulator's; the secret comes from the variable named here.
   */
  tenantId: z.string().min(1, 'must not be empty').optional(),
  clientId: z.string().min(1, 'must not be empty').optional(),
  clientSecretEnv: envName.optional(),
}).superRefine((crm, ctx) => {
  if (crm.auth !== 'static-token') return;
  for (const key of ['tenantId', 'clientId', 'clientSecretEnv'] as const) {
    if (crm[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'client credentials need crm.auth "client-credentials"' });
  }
});

const storeSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('memory') }),
  z.strictObject({
    kind: z.literal('postgres'),
    /** Environment variable holding the database URL (default: CRM_SYNC_DATABASE_URL, then DATABASE_URL). */
    urlEnv: envName.optional(),
    schema: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a lowercase SQL identifier').default('crm_sync'),
    maxConnections: z.number().int().min(1).max(100).default(10),
    /** Named prepared statements; false behind a pooler that does not carry them between connections (PgBouncer in transaction mode before 1.21). */
    preparedStatements: z.boolean().default(true),
  }),
]);

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
  crm: z.discriminatedUnion('kind', [dynamicsSchema, simulatorSchema]).default(() => simulatorSchema.parse({ kind: 'simulator' })),
  store: storeSchema.default({ kind: 'memory' }),
  sync: syncConfigSchema.prefault({}),
  server: serverSchema.prefault({}),
  log: logSchema.prefault({}),
  runner: runnerSchema.prefault({}),
});

export type RunnerConfigInput = z.input<typeof runnerConfigSchema>;
export type RunnerConfig = z.output<typeof runnerConfigSchema>;
export type CrmConfig = RunnerConfig['crm'];
export type SimulatorCrmConfig = Extract<CrmConfig, { kind: 'simulator' }>;
export type DynamicsCrmConfig = Extract<CrmConfig, { kind: 'dynamics' }>;
export type StoreConfig = RunnerConfig['store'];
export type LogLevel = RunnerConfig['log']['level'];
