import * as z from 'zod';
import type { CrmTrafficEvent, PluginCheck, PluginContext } from '@crm-sync/core';
import type { AdapterEvent } from '@crm-sync/dynamics-adapter';

/** The Dynamics adapter's events as the runner's metrics and logs count them. */
export function trafficEvent(event: AdapterEvent): CrmTrafficEvent {
  switch (event.type) {
    case 'request':
      return {
        type: 'request', status: event.status, method: event.method, path: event.path, durationMs: event.durationMs,
        ...(event.operations !== undefined ? { operations: event.operations } : {}),
        ...(event.dopHint !== undefined ? { parallelism: event.dopHint } : {}),
        ...(event.concurrency !== undefined ? { concurrency: event.concurrency } : {}),
      };
    case 'retry':
      return { type: 'retry', reason: event.reason };
    case 'bulk-fallback':
      // A bulk request refused as a whole is sent again as $batch, one operation per row.
      return { type: 'retry', reason: 'bulk-fallback' };
    case 'throttled':
      return { type: 'throttled', retryAfterMs: event.retryAfterMs, path: event.path };
    case 'token':
      return { type: 'token' };
    case 'checkpoint-reset':
      return { type: 'checkpoint-reset', entity: event.entity, reason: event.error.message };
  }
}

/**
 * What to check when a doctor step fails against Dataverse, in the words of the Power Platform and
 * Entra admin centers (`{entity}`, `{host}`: the table, the sign-in authority).
 */
export const DATAVERSE_HINTS = {
  reach: 'Check crm.environmentUrl (https://<org>.crm.dynamics.com) and that this machine reaches it and login.microsoftonline.com (proxy, firewall).',
  credentials:
    'Check crm.tenantId (Directory ID), crm.clientId (Application ID) and the client secret in CRM_SYNC_CLIENT_SECRET (Entra admin center > App registrations > Certificates & secrets; secrets expire).',
  authority:
    'No token: the sign-in authority {host} did not answer. Check crm.authorityHost (default https://login.microsoftonline.com) and that this machine reaches {host} (DNS, proxy, firewall, TLS inspection).',
  applicationUser:
    'Create an application user for this client id in the environment (Power Platform admin center > Environments > Settings > Users + permissions > Application users) and give it a security role.',
  metadata: 'The security role of the application user needs Read on the table and on its metadata (the Basic User role includes it).',
  customEntity: 'Check customEntities[].name against the logical name of the table in Power Apps (Tables > the table > Properties > Advanced options).',
  readPrivilege:
    "Give the application user's security role organization-level Read on the {entity} table (Power Platform admin center > Security roles); narrower access hides rows and breaks change tracking.",
  writePrivilege:
    'Give the security role Write on the {entity} table, and check the field security profiles: local changes are only pushed to fields the sync user may update.',
  changeTracking:
    'Enable change tracking on {entity} (Power Apps > Tables > {entity} > Properties > Advanced options > Track changes) so deletes and changes arrive in each delta.',
  securedFields: 'Secured columns are synced only with a field security profile that grants the application user Read (and Update to push).',
} as const;

/** The client secret lives in the environment only: the variable the options name must be set. */
export function clientSecretCheck(variable: string, env: PluginContext['env']): PluginCheck {
  const secret = env[variable];
  return secret
    ? { secrets: [secret] }
    : { problems: [`clientSecretEnv: environment variable ${variable} is not set (the client secret comes from the environment only)`] };
}

/** A short check (doctor): small pages and a short retry budget. */
export const QUICK = { pageSize: 10, retry: { maxAttempts: 2, budgetMs: 20_000, requestTimeoutMs: 20_000 } } as const;

/** Rows per page asked of the CRM (Dataverse caps a page at 5,000). */
export const pageSizeOption = z.number().int().min(1).max(5_000).default(5_000);
