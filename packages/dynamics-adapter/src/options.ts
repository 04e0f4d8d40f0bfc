import * as z from 'zod';
import { formatIssues, SyncError } from '@crm-sync/core';
import type { INetworkModule } from '@azure/msal-node';
import type { AdapterEvent } from './events.js';

/** The fetch signature the adapter calls; tests inject their own. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

const fn = <T>(what: string) =>
  z.custom<T>((value) => typeof value === 'function', { message: `must be a function (${what})` });

const guidLike = z.string().min(1, 'must not be empty');

const clientCredentials = z.strictObject({
  kind: z.literal('client-credentials'),
  tenantId: guidLike,
  clientId: guidLike,
  clientSecret: z.string().min(1, 'must not be empty'),
  /**
   * Entra authority host; sovereign clouds use another one. Must be https (msal-node insists). A host
   * other than login.microsoftonline.com is trusted as configured: MSAL reads its OpenID configuration
   * from it, without asking login.microsoftonline.com to discover it.
   */
  authorityHost: z.url({ protocol: /^https$/, error: 'must be an https URL' }).default('https://login.microsoftonline.com'),
  /**
   * Advanced: msal-node's network module. By default MSAL's requests go through the adapter's
   * `fetch`, so tests and proxies see them too.
   */
  networkClient: z.custom<INetworkModule>((v) => typeof v === 'object' && v !== null, 'must be an INetworkModule').optional(),
  /** Advanced: JSON of the authority's OpenID configuration, to skip discovery (offline or private clouds). */
  authorityMetadata: z.string().optional(),
  /** Advanced: JSON of the cloud instance discovery answer, to skip discovery. */
  cloudDiscoveryMetadata: z.string().optional(),
});

const staticToken = z.strictObject({
  kind: z.literal('static-token'),
  /** A bearer token, or a function returning one (called again after a 401). */
  token: z.union([z.string().min(1, 'must not be empty'), fn<(forceRefresh: boolean) => Promise<string> | string>('token provider')]),
});

export const adapterOptionsSchema = z.strictObject({
  /** The environment URL, e.g. https://contoso.crm.dynamics.com (no path). */
  environmentUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  /** Web API path below the environment URL. */
  apiPath: z
    .string()
    .regex(/^\/[A-Za-z0-9_./-]*[^/]$/, 'must start with "/" and not end with "/"')
    .default('/api/data/v9.2'),
  auth: z.discriminatedUnion('kind', [clientCredentials, staticToken]),
  fetch: fn<FetchLike>('fetch').optional(),
  /** Rows per page (Dataverse caps at 5,000 and ignores more). */
  pageSize: z.number().int().min(1).max(5_000).default(5_000),
  /**
   * The most requests in flight at once. The adapter follows the service's `x-ms-dop-hint` (its
   * recommended degree of parallelism) as it changes, never above this; unset, the hint alone decides
   * (at most 50; 8 before the first answer). Dataverse rejects the 52nd concurrent request of a user.
   */
  maxConcurrency: z.number().int().min(1).max(51).optional(),
  /**
   * How many clients share the org's recommended parallelism (several runners syncing one org):
   * this adapter sends at most `x-ms-dop-hint / sharedBy` requests at once (at least 1; before the
   * first hint, 8 / sharedBy), `maxConcurrency` still the upper bound. The sync engine updates it
   * before each cycle from the runners' leases (`shareParallelism`). Default 1: the whole hint.
   */
  sharedBy: z.number().int().min(1).max(1_000).default(1),
  /** Writes per `$batch` request (Dataverse allows 1,000; smaller batches keep execution time low). */
  batchSize: z.number().int().min(1).max(1_000).default(100),
  /**
   * Bulk operation messages (CreateMultiple, UpdateMultiple) for tables that have them (asked of the
   * service once, kept `metadataMaxAgeMs`). Used for creates and for updates without a version to
   * check; updates checked against a version (R2) always go through `$batch`.
   */
  bulk: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Records per request. Microsoft: about 1,000 is a reasonable start on standard tables with small records and no plug-ins. */
      size: z.number().int().min(1).max(5_000).default(1_000),
      /** Fewer eligible writes in a call go through `$batch`: the gain grows with the chunk, and a refused chunk costs a second request. */
      minRows: z.number().int().min(1).default(10),
    })
    .prefault({}),
  retry: z
    .strictObject({
      /** Attempts per request, the first included. */
      maxAttempts: z.number().int().min(1).max(100).default(10),
      /** Time one request may spend waiting and retrying before it fails. */
      budgetMs: z.number().int().min(0).default(300_000),
      /** First backoff step for 5xx and dropped connections (full jitter, doubling). */
      baseDelayMs: z.number().int().min(0).default(500),
      /** Longest single backoff for 5xx and dropped connections. */
      maxDelayMs: z.number().int().min(0).default(30_000),
      /** Longest `Retry-After` honoured; a longer one is waited for this long only. */
      maxRetryAfterMs: z.number().int().min(0).default(300_000),
      /** Per-attempt timeout; a request that hangs longer counts as a dropped connection. */
      requestTimeoutMs: z.number().int().min(1).default(120_000),
    })
    .prefault({}),
  /** Tables without change tracking: every Nth pull is a full read that also finds deletes (0 = never). */
  reconcileEvery: z.number().int().min(0).default(12),
  /** Tables without change tracking: rows modified this long before the watermark are read again. */
  watermarkOverlapMs: z.number().int().min(0).max(3_600_000).default(1_000),
  /**
   * Table definitions and the sync user's field access are reused this long, so a quiet cycle sends
   * no metadata request (R9: columns added in the CRM appear after it, or at once when a field
   * unknown to the cache is asked for). Rows and writes touching a secured column confirm access each cycle.
   */
  metadataMaxAgeMs: z.number().int().min(0).default(3_600_000),
  /** Request the next page as soon as a body's nextLink is known, while the caller processes this one (one page ahead at most). */
  readAhead: z.boolean().default(true),
  /**
   * Initial loads of change-tracked tables: `true` cuts a key-only tracked read (the spine) into
   * key ranges read in parallel; `false` reads the snapshot page after page; `auto` is parallel once
   * the service has sent rate-limit headers (one reader spends at most a quarter of the documented
   * execution budget) and page after page otherwise, or with `serviceProtection.pacing` off.
   */
  initialLoad: z
    .strictObject({
      parallel: z.union([z.boolean(), z.literal('auto')]).default('auto'),
      /**
       * The most ranges read at once (the pool adapts below it on 429s; default 7 per web server heard from). Always below the
       * adapter's concurrency (one slot for the spine), so a lower `x-ms-dop-hint` lowers it.
       */
      maxRanges: z.number().int().min(1).max(50).optional(),
      /** Keys per spine page, i.e. rows per range (Dataverse pages at most 5,000). */
      rangeSize: z.number().int().min(1).max(5_000).default(5_000),
    })
    .prefault({}),
  /**
   * Pacing under the service protection limits: the \`x-ms-ratelimit-*\` headers, taken as hints, hold
   * requests back before the window's budget runs out instead of waiting for a 429.
   */
  serviceProtection: z
    .strictObject({
      pacing: z.boolean().default(true),
      /** The sliding window the limits are counted over (documented: 5 minutes). */
      windowMs: z.number().int().min(100).max(3_600_000).default(300_000),
    })
    .prefault({}),
  /** Metrics and diagnostics (requests, retries, throttling, checkpoint resets). Never sees secrets. */
  onEvent: fn<(event: AdapterEvent) => void>('event listener').optional(),
});

export type DynamicsAdapterOptions = z.input<typeof adapterOptionsSchema>;
export type ResolvedOptions = z.output<typeof adapterOptionsSchema>;
export type AuthOptions = ResolvedOptions['auth'];

/** Validates options; throws CONFIG_INVALID naming every bad path (never echoing values). */
export function parseOptions(input: unknown): ResolvedOptions {
  const parsed = adapterOptionsSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const problems = formatIssues(parsed.error.issues);
    throw new SyncError('CONFIG_INVALID', `[dynamics-adapter] Invalid options:\n  ${problems.join('\n  ')}`, {
      details: { issues: problems },
    });
  }
  const options = parsed.data;
  if (new URL(options.environmentUrl).pathname.replace(/\/+$/, '') !== '') {
    throw new SyncError('CONFIG_INVALID', '[dynamics-adapter] Invalid options:\n  environmentUrl: must have no path (set apiPath)', {
      details: { issues: ['environmentUrl: must have no path (set apiPath)'] },
    });
  }
  return options;
}
