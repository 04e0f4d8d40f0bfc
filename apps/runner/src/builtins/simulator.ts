import * as z from 'zod';
import type { PluginContext } from '@crm-sync/core';
import { defineCrmPlugin, SyncError } from '@crm-sync/core';
import type { DynamicsAdapterOptions } from '@crm-sync/dynamics-adapter';
import type { SimulatorServer } from '@crm-sync/dynamics-simulator';
import { envName } from '../config/schema.js';
import { clientSecretCheck, DATAVERSE_HINTS, pageSizeOption, QUICK, trafficEvent } from './dataverse.js';
import { startDemoEdits } from './sales-staff.js';

const count = z.number().int().min(0);

const salesStaffEditsSchema = z.strictObject({
  /** Pause between two simulated CRM edits by sales staff. */
  everyMs: z.number().int().min(100).default(4_000),
});

const options = z.strictObject({
  /** A running standalone simulator (`crm-sync simulator`); without it one starts in this process. */
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** How the adapter signs in: OAuth client credentials through MSAL, or the static bearer token. */
  auth: z.enum(['client-credentials', 'static-token']).default('client-credentials'),
  pageSize: pageSizeOption,
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
type SimulatorOptions = z.output<typeof options>;

/** What GET /_simulator/info of a standalone simulator tells a client. */
const simulatorInfoSchema = z.object({
  credentials: z.object({ tenantId: z.string(), clientId: z.string(), clientSecret: z.string(), token: z.string() }),
  counts: z.record(z.string(), z.number()).optional(),
});
type SimulatorInfo = z.infer<typeof simulatorInfoSchema>;

async function fetchSimulatorInfo(url: string): Promise<SimulatorInfo> {
  let response: Response;
  try {
    response = await fetch(new URL('/_simulator/info', url), { signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    throw new SyncError('CRM_UNAVAILABLE', `No simulator answers at ${url} (${(error as Error).message}); start one with: crm-sync simulator`, { cause: error });
  }
  const parsed = simulatorInfoSchema.safeParse(response.ok ? await response.json().catch(() => null) : null);
  if (!parsed.success) {
    throw new SyncError('CRM_RESPONSE_INVALID', `${url} does not look like a crm-sync simulator (GET /_simulator/info answered ${response.status})`);
  }
  return parsed.data;
}

async function simulatorAuth(cfg: SimulatorOptions, url: string, credentials: SimulatorInfo['credentials'], context: PluginContext): Promise<DynamicsAdapterOptions['auth']> {
  if (cfg.auth === 'static-token') return { kind: 'static-token', token: credentials.token };
  const { createMsalNetworkClient } = await import('@crm-sync/dynamics-simulator');
  // The real MSAL client-credentials flow: MSAL keeps its https authority, the requests go to the
  // simulator. Credentials the config names replace the simulator's (its token endpoint checks them).
  return {
    kind: 'client-credentials',
    tenantId: cfg.tenantId ?? credentials.tenantId,
    clientId: cfg.clientId ?? credentials.clientId,
    clientSecret: (cfg.clientSecretEnv ? context.env[cfg.clientSecretEnv] : undefined) ?? credentials.clientSecret,
    networkClient: createMsalNetworkClient({ target: url }),
  };
}

async function startInProcess(cfg: SimulatorOptions): Promise<SimulatorServer> {
  const { startSimulatorServer } = await import('@crm-sync/dynamics-simulator');
  return startSimulatorServer({
    port: 0,
    seed: cfg.seed,
    contacts: cfg.contacts,
    ...(cfg.accounts !== undefined ? { accounts: cfg.accounts } : {}),
    ...(cfg.leads !== undefined ? { leads: cfg.leads } : {}),
    ...(cfg.opportunities !== undefined ? { opportunities: cfg.opportunities } : {}),
    ...(cfg.memberships !== undefined ? { memberships: cfg.memberships } : {}),
    ...(cfg.largeAccounts ? { largeAccounts: cfg.largeAccounts } : {}),
    ...(cfg.limits ? {} : { limits: { enabled: false } }),
  });
}

/** The simulated Dataverse org: a standalone one (`url`), or one started in this process with seeded data. */
export const simulatorPlugin = defineCrmPlugin({
  type: 'crm',
  name: 'simulator',
  description: 'the simulated Dataverse org (standalone at crm.url, or in this process)',
  options,
  // Credentials of its own only when the config names a secret's variable.
  check: (cfg, { env }) => (cfg.clientSecretEnv === undefined ? {} : clientSecretCheck(cfg.clientSecretEnv, env)),
  describe: (cfg) => `simulator ${cfg.url ?? '(in this process)'}, ${cfg.clientId ? `client ${cfg.clientId}` : `simulator sync user (${cfg.auth})`}`,
  async connect(cfg, { context, onEvent, quick }) {
    const server = cfg.url ? null : await startInProcess(cfg);
    const url = server?.url ?? (cfg.url as string).replace(/\/+$/, '');
    const info: SimulatorInfo = server
      ? { credentials: server.simulator.credentials, counts: { ...server.simulator.dataset.counts } }
      : await fetchSimulatorInfo(url);
    const { createDynamicsAdapter } = await import('@crm-sync/dynamics-adapter');
    const adapter = createDynamicsAdapter({
      environmentUrl: url,
      auth: await simulatorAuth(cfg, url, info.credentials, context),
      pageSize: quick ? QUICK.pageSize : cfg.pageSize,
      ...(quick ? { retry: QUICK.retry } : {}),
      ...(onEvent ? { onEvent: (event) => onEvent(trafficEvent(event)) } : {}),
    });
    const edits = cfg.salesStaffEdits;
    return {
      adapter,
      url,
      secrets: [info.credentials.clientSecret, info.credentials.token],
      total: (entity) => info.counts?.[entity],
      // Simulated sales staff edit the in-process org while `start` runs (the demo).
      ...(server && edits
        ? { startBeside: (engine, { log }) => startDemoEdits({ server, engine, log, everyMs: edits.everyMs, seed: cfg.seed }) }
        : {}),
      async close() {
        await adapter.close?.();
        await server?.close();
      },
    };
  },
  hints: {
    ...DATAVERSE_HINTS,
    reach: 'Check crm.url and that a simulator answers there (crm-sync simulator), or leave crm.url out to run one in this process.',
    credentials: "Check crm.tenantId, crm.clientId and the secret in the variable crm.clientSecretEnv names against the simulator's credentials (leave them out to use the simulator's own).",
  },
});
