import * as z from 'zod';
import type { CrmAdapter } from '@crm-sync/core';
import { SyncError } from '@crm-sync/core';
import { createDynamicsAdapter } from '@crm-sync/dynamics-adapter';
import type { AdapterEvent, DynamicsAdapterOptions } from '@crm-sync/dynamics-adapter';
import type { SimulatorServer } from '@crm-sync/dynamics-simulator';
import type { Secrets } from '../config/load.js';
import type { RunnerConfig, SimulatorCrmConfig } from '../config/schema.js';

export interface CrmConnection {
  adapter: CrmAdapter;
  kind: 'dynamics' | 'simulator';
  /** The environment (org) URL. */
  url: string;
  /** The simulator running in this process, if any (demo edits, totals). */
  simulator: SimulatorServer | null;
  /** Secrets learned while connecting (a simulator's credentials), to redact. */
  secrets: string[];
  /** Rows of an entity in the CRM when known cheaply (simulators), for progress ETAs. */
  total(entity: string): number | undefined;
  close(): Promise<void>;
}

export interface ConnectCrmOptions {
  onAdapterEvent?: (event: AdapterEvent) => void;
  /** Overrides for short checks (doctor): small pages, a short retry budget. */
  pageSize?: number;
  retry?: { maxAttempts?: number; budgetMs?: number; requestTimeoutMs?: number };
}

/** What GET /_simulator/info of a standalone simulator tells a client. */
const simulatorInfoSchema = z.object({
  credentials: z.object({
    tenantId: z.string(),
    clientId: z.string(),
    clientSecret: z.string(),
    token: z.string(),
  }),
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

async function simulatorAuth(
  cfg: SimulatorCrmConfig,
  url: string,
  credentials: SimulatorInfo['credentials'],
  secret: string | undefined,
): Promise<DynamicsAdapterOptions['auth']> {
  if (cfg.auth === 'static-token') return { kind: 'static-token', token: credentials.token };
  const { createMsalNetworkClient } = await import('@crm-sync/dynamics-simulator');
  // The real MSAL client-credentials flow: MSAL keeps its https authority, the requests go to the
  // simulator. Credentials the config names replace the simulator's (its token endpoint checks them).
  return {
    kind: 'client-credentials',
    tenantId: cfg.tenantId ?? credentials.tenantId,
    clientId: cfg.clientId ?? credentials.clientId,
    clientSecret: secret ?? credentials.clientSecret,
    networkClient: createMsalNetworkClient({ target: url }),
  };
}

async function connectSimulator(config: RunnerConfig, cfg: SimulatorCrmConfig, secrets: Secrets, options: ConnectCrmOptions): Promise<CrmConnection> {
  let server: SimulatorServer | null = null;
  let url: string;
  let info: SimulatorInfo;
  if (cfg.url) {
    url = cfg.url.replace(/\/+$/, '');
    info = await fetchSimulatorInfo(url);
  } else {
    const { startSimulatorServer } = await import('@crm-sync/dynamics-simulator');
    server = await startSimulatorServer({
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
    url = server.url;
    info = { credentials: server.simulator.credentials, counts: { ...server.simulator.dataset.counts } };
  }
  const adapter = createDynamicsAdapter({
    environmentUrl: url,
    auth: await simulatorAuth(cfg, url, info.credentials, secrets.clientSecret),
    pageSize: options.pageSize ?? cfg.pageSize,
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.onAdapterEvent ? { onEvent: options.onAdapterEvent } : {}),
  });
  const running = server;
  return {
    adapter,
    kind: 'simulator',
    url,
    simulator: running,
    secrets: [info.credentials.clientSecret, info.credentials.token],
    total: (entity) => info.counts?.[entity],
    async close() {
      await adapter.close?.();
      await running?.close();
    },
  };
}

/** The CRM side from the config: a Dynamics org, a standalone simulator, or one started here. */
export async function connectCrm(config: RunnerConfig, secrets: Secrets, options: ConnectCrmOptions = {}): Promise<CrmConnection> {
  const cfg = config.crm;
  if (cfg.kind === 'simulator') return connectSimulator(config, cfg, secrets, options);
  const adapter = createDynamicsAdapter({
    environmentUrl: cfg.environmentUrl.replace(/\/+$/, ''),
    ...(cfg.apiPath ? { apiPath: cfg.apiPath } : {}),
    auth: {
      kind: 'client-credentials',
      tenantId: cfg.tenantId,
      clientId: cfg.clientId,
      clientSecret: secrets.clientSecret ?? '',
      ...(cfg.authorityHost ? { authorityHost: cfg.authorityHost } : {}),
    },
    pageSize: options.pageSize ?? cfg.pageSize,
    ...(cfg.maxConcurrency ? { maxConcurrency: cfg.maxConcurrency } : {}),
    retry: {
      ...(cfg.requestTimeoutMs ? { requestTimeoutMs: cfg.requestTimeoutMs } : {}),
      ...(cfg.retryBudgetMs !== undefined ? { budgetMs: cfg.retryBudgetMs } : {}),
      ...options.retry,
    },
    ...(options.onAdapterEvent ? { onEvent: options.onAdapterEvent } : {}),
  });
  return {
    adapter,
    kind: 'dynamics',
    url: cfg.environmentUrl,
    simulator: null,
    secrets: [],
    total: () => undefined,
    close: async () => {
      await adapter.close?.();
    },
  };
}
