import * as z from 'zod';
import { defineCrmPlugin } from '@crm-sync/core';
import { envName } from '../config/schema.js';
import { clientSecretCheck, DATAVERSE_HINTS, pageSizeOption, QUICK, trafficEvent } from './dataverse.js';

const options = z.strictObject({
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
  pageSize: pageSizeOption,
  /** Requests in flight at once (Dataverse allows 52 per user). */
  maxConcurrency: z.number().int().min(1).max(51).optional(),
  /** Per-request timeout and retry budget (milliseconds). */
  requestTimeoutMs: z.number().int().min(1).optional(),
  retryBudgetMs: z.number().int().min(0).optional(),
});

/** Microsoft Dynamics 365 (Dataverse Web API), signed in with an Entra app registration's client credentials. */
export const dynamicsPlugin = defineCrmPlugin({
  type: 'crm',
  name: 'dynamics',
  description: 'Microsoft Dynamics 365 / Dataverse Web API (client credentials)',
  options,
  check: (cfg, { env }) => clientSecretCheck(cfg.clientSecretEnv, env),
  describe: (cfg) => `Dynamics ${cfg.environmentUrl} (client ${cfg.clientId})`,
  async connect(cfg, { context, onEvent, quick }) {
    const { createDynamicsAdapter } = await import('@crm-sync/dynamics-adapter');
    const adapter = createDynamicsAdapter({
      environmentUrl: cfg.environmentUrl.replace(/\/+$/, ''),
      ...(cfg.apiPath ? { apiPath: cfg.apiPath } : {}),
      auth: {
        kind: 'client-credentials',
        tenantId: cfg.tenantId,
        clientId: cfg.clientId,
        clientSecret: context.env[cfg.clientSecretEnv] ?? '',
        ...(cfg.authorityHost ? { authorityHost: cfg.authorityHost } : {}),
      },
      pageSize: quick ? QUICK.pageSize : cfg.pageSize,
      ...(cfg.maxConcurrency ? { maxConcurrency: cfg.maxConcurrency } : {}),
      retry: {
        ...(cfg.requestTimeoutMs ? { requestTimeoutMs: cfg.requestTimeoutMs } : {}),
        ...(cfg.retryBudgetMs !== undefined ? { budgetMs: cfg.retryBudgetMs } : {}),
        ...(quick ? QUICK.retry : {}),
      },
      ...(onEvent ? { onEvent: (event) => onEvent(trafficEvent(event)) } : {}),
    });
    return { adapter, url: cfg.environmentUrl, close: async () => adapter.close?.() };
  },
  hints: DATAVERSE_HINTS,
});
