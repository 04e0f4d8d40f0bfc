import { setTimeout as sleep } from 'node:timers/promises';
import { http } from 'msw';
import type { HttpHandler } from 'msw';
import { createAuthenticator } from './auth.js';
import type { Authenticator, ClientCredential } from './auth.js';
import { createClock } from './clock.js';
import type { Clock, ClockOptions } from './clock.js';
import { CONTROL_PATH, createControl, handleControlRequest } from './control.js';
import type { SimulatorControl } from './control.js';
import { createFaultInjector } from './faults.js';
import type { FaultRule, FaultSettings } from './faults.js';
import { createDataset } from './generator.js';
import type { Dataset, DatasetOptions } from './generator.js';
import { nameGuid } from './guid.js';
import { AFFINITY_COOKIES, createServiceProtection } from './limits.js';
import type { LimitsInput } from './limits.js';
import { errors, isODataError, odataError } from './odata/errors.js';
import { parsePrefer } from './odata/prefer.js';
import { createOrg } from './org.js';
import type { Org, OrgUser } from './org.js';
import { applyQuirks, NO_QUIRKS } from './quirks.js';
import type { QuirksInput } from './quirks.js';
import { createRequestLog } from './request-log.js';
import type { RequestLogEntry } from './request-log.js';
import { executeBatch } from './webapi/batch.js';
import { createBulkRuntime } from './webapi/bulk.js';
import type { BulkMessages, BulkMessagesInput } from './webapi/bulk.js';
import type { WebApiContext } from './webapi/context.js';
import { errorResponse, jsonResponse } from './webapi/http.js';
import { API_PATH, routeWebApi } from './webapi/router.js';

export interface SimulatorOptions extends DatasetOptions {
  /** Origin the MSW handlers answer for. Default https://simulated.crm.dynamics.com */
  url?: string;
  /** Origin of the token endpoint the MSW handlers answer for. Default https://login.microsoftonline.com */
  loginUrl?: string;
  /** Directory (tenant) id. Default: derived from the seed. */
  tenantId?: string;
  /** A clock, or options for one (scale, manual, start). Default: real time. */
  clock?: Clock | ClockOptions;
  limits?: LimitsInput;
  faults?: FaultSettings;
  /** Delta tokens older than this fail. Default 7 days (the documented default). */
  deltaTokenMaxAgeMs?: number;
  /** Documented answers given only when asked: `$batch` ignoring continue-on-error, links with a narrower `$select`. */
  quirks?: QuirksInput;
  /** Request log entries kept. Default 10,000. */
  requestLogSize?: number;
  /** Extra OAuth clients and static tokens; the defaults for the sync user and the administrator stay. */
  auth?: { clients?: ClientCredential[]; tokens?: Record<string, string>; tokenLifetimeSeconds?: number };
  /** Use an existing dataset instead of generating one from the options. */
  dataset?: Dataset;
  /** CreateMultiple and UpdateMultiple per table (default: every table has them). */
  bulkMessages?: BulkMessagesInput;
}

/** What a client needs to sign in as the sync application user. */
export interface SyncCredentials {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** Static bearer token for the same user (no token endpoint needed). */
  token: string;
}

export interface Simulator {
  /** Org origin used by the MSW handlers. */
  readonly url: string;
  readonly loginUrl: string;
  readonly tenantId: string;
  readonly credentials: SyncCredentials;
  /** Static bearer tokens per user: sync, admin and staff. */
  readonly tokens: { sync: string; admin: string; staff: string[] };
  readonly users: { sync: OrgUser; admin: OrgUser; staff: OrgUser[] };
  readonly org: Org;
  readonly dataset: Dataset;
  readonly clock: Clock;
  readonly control: SimulatorControl;
  /** Which tables have CreateMultiple and UpdateMultiple (changeable at run time), and deadlocks seen. */
  readonly bulkMessages: BulkMessages;
  /** MSW handlers for `setupServer(...sim.handlers)`, answering on `url` and `loginUrl`. */
  readonly handlers: HttpHandler[];
  /** The whole simulator as one Fetch handler; the standalone server calls it too. */
  fetchHandler(request: Request): Promise<Response>;
  /** Web API root for a given origin, e.g. `${origin}/api/data/v9.2/`. */
  webApiUrl(origin?: string): string;
  tokenUrl(origin?: string): string;
  /** Summary for people and other processes (GET /_simulator/info). */
  info(origin?: string): Record<string, unknown>;
}

/** The server an affinity cookie names (`ARRAffinity`, else `ARRAffinitySameSite`), or null. */
function affinityOf(cookieHeader: string | null): string | null {
  if (!cookieHeader) return null;
  const cookies = new Map<string, string>();
  for (const part of cookieHeader.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) cookies.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  for (const name of AFFINITY_COOKIES) {
    const value = cookies.get(name);
    if (value) return value;
  }
  return null;
}

function isClock(value: Clock | ClockOptions | undefined): value is Clock {
  return typeof value === 'object' && value !== null && typeof (value as Clock).now === 'function';
}

export function createSimulator(options: SimulatorOptions = {}): Simulator {
  const dataset = options.dataset ?? createDataset(options);
  const seed = dataset.seed;
  const clock = isClock(options.clock) ? options.clock : createClock(options.clock);
  const org = createOrg({
    dataset,
    clock,
    ...(options.deltaTokenMaxAgeMs !== undefined ? { deltaTokenMaxAgeMs: options.deltaTokenMaxAgeMs } : {}),
    ...(options.quirks ? { quirks: applyQuirks(NO_QUIRKS, options.quirks) } : {}),
  });
  const url = (options.url ?? 'https://simulated.crm.dynamics.com').replace(/\/$/, '');
  const loginUrl = (options.loginUrl ?? 'https://login.microsoftonline.com').replace(/\/$/, '');
  const tenantId = options.tenantId ?? nameGuid(seed, 'tenant');
  const credentials: SyncCredentials = {
    tenantId,
    clientId: dataset.syncClientId,
    clientSecret: `sim-secret-${seed}`,
    token: 'sim-token-sync',
  };
  const tokens = {
    sync: 'sim-token-sync',
    admin: 'sim-token-admin',
    staff: org.users.staff.map((_, i) => `sim-token-staff-${i + 1}`),
  };
  const auth: Authenticator = createAuthenticator(
    {
      tenantId,
      clients: [
        { clientId: credentials.clientId, clientSecret: credentials.clientSecret, userId: org.users.sync.id },
        { clientId: nameGuid(seed, 'admin-client-id'), clientSecret: `sim-admin-secret-${seed}`, userId: org.users.admin.id },
        ...(options.auth?.clients ?? []),
      ],
      tokens: {
        [tokens.sync]: org.users.sync.id,
        [tokens.admin]: org.users.admin.id,
        ...Object.fromEntries(org.users.staff.map((user, i) => [tokens.staff[i]!, user.id])),
        ...options.auth?.tokens,
      },
      tokenLifetimeSeconds: options.auth?.tokenLifetimeSeconds ?? 3599,
    },
    clock,
    seed,
    loginUrl,
  );
  const limits = createServiceProtection(clock, options.limits);
  const faults = createFaultInjector(options.faults ?? null);
  const log = createRequestLog(options.requestLogSize);
  const control = createControl({ org, limits, faults, log });
  // A bulk request runs (holding its records) for its execution time when answers are held.
  const bulkMessages = createBulkRuntime(options.bulkMessages, (usage) => {
    const settings = limits.settings();
    return settings.enabled && settings.holdAnswers ? limits.executionMs(usage) / clock.scale : 0;
  });

  const webApiUrl = (origin = url): string => `${origin}${API_PATH}`;
  const tokenUrl = (origin = loginUrl): string => `${origin}/${tenantId}/oauth2/v2.0/token`;
  const info = (origin?: string): Record<string, unknown> => ({
    url: origin ?? url,
    webApiUrl: webApiUrl(origin),
    tokenUrl: tokenUrl(origin ?? loginUrl),
    authority: `${origin ?? loginUrl}/${tenantId}`,
    scope: `${origin ?? url}/.default`,
    credentials,
    tokens,
    users: org.users,
    seed,
    counts: dataset.counts,
    largeAccounts: dataset.largeAccounts,
  });

  const record = (entry: Omit<RequestLogEntry, 'seq' | 'time'>): void => log.add({ time: new Date(clock.now()).toISOString(), ...entry });

  const faultResponse = (rule: FaultRule): Response => {
    switch (rule.kind) {
      case '429': {
        const settings = limits.settings();
        return errorResponse(
          odataError(429, '0x80072322', `Number of requests exceeded the limit of ${settings.maxRequests} over time window of ${Math.round(settings.windowMs / 1000)} seconds.`, {
            'Retry-After': String(rule.retryAfterSeconds ?? 1),
          }),
        );
      }
      case '500':
        return errorResponse(errors.unexpected());
      case '503':
        return jsonResponse(503, { error: { code: '0x80040216', message: 'The service is temporarily unavailable. Try again later.' } });
      default:
        return Response.error();
    }
  };

  /**
   * Every Web API answer carries the recommended degree of parallelism, as Dataverse's do, and the
   * affinity cookies naming the web server that answered (a client sending them back stays there).
   */
  const handleWebApi = async (request: Request, requestUrl: URL): Promise<Response> => {
    const server = limits.route(affinityOf(request.headers.get('cookie')));
    const seen = { userId: null as string | null };
    const response = await answerWebApi(request, requestUrl, seen, server);
    if (response.type === 'error') return response;
    response.headers.set('x-ms-dop-hint', String(limits.dopHint(seen.userId, server)));
    const value = limits.affinity(server);
    // The real service is https; over plain http `Secure` is left out so that a cookie jar may send them back.
    const secure = requestUrl.protocol === 'https:' ? ';Secure' : '';
    response.headers.append('Set-Cookie', `${AFFINITY_COOKIES[0]}=${value};Path=/;HttpOnly${secure}`);
    response.headers.append('Set-Cookie', `${AFFINITY_COOKIES[1]}=${value};Path=/;HttpOnly;SameSite=None${secure}`);
    return response;
  };

  const answerWebApi = async (request: Request, requestUrl: URL, seen: { userId: string | null }, server: number): Promise<Response> => {
    const method = request.method.toUpperCase();
    const pathAndQuery = requestUrl.pathname + requestUrl.search;
    const userId = auth.authenticate(request);
    if (!userId || !org.userExists(userId)) {
      record({ method, url: request.url, status: 401, userId: null, fault: null, executionMs: 0, rows: 0, server });
      return auth.unauthorized(requestUrl);
    }
    seen.userId = userId;
    const admission = limits.admit(userId, server);
    if (isODataError(admission)) {
      record({ method, url: request.url, status: 429, userId, fault: 'limit', executionMs: 0, rows: 0, server });
      const response = errorResponse(admission);
      for (const [name, value] of Object.entries(limits.headers(userId, server))) response.headers.set(name, value);
      return response;
    }
    const usage = { rows: 0, columnValues: 0, writes: 0, operations: 1 };
    const startedAt = performance.now();
    const charge = (): number => limits.executionMs(usage) + limits.settings().cost.baseMs * (usage.operations - 1);
    let status = 0;
    let fault: FaultRule | undefined;
    try {
      fault = faults.decide(method, pathAndQuery);
      if (fault && fault.kind === 'slow') await sleep(fault.delayMs ?? 2000);
      if (fault && (fault.kind === '429' || fault.kind === '500' || fault.kind === '503' || fault.kind === 'drop')) {
        const response = faultResponse(fault);
        status = response.status;
        return response;
      }
      const body = method === 'GET' || method === 'HEAD' ? '' : await request.text();
      const context: WebApiContext = {
        org,
        userId,
        method,
        url: requestUrl,
        headers: request.headers,
        body,
        serviceRoot: webApiUrl(requestUrl.origin),
        preferences: parsePrefer(request.headers.get('Prefer')),
        usage,
        bulk: bulkMessages,
      };
      const apiPath = requestUrl.pathname.slice(API_PATH.length);
      let response: Response;
      try {
        response = apiPath === '$batch' ? await executeBatch(context) : await routeWebApi(context, apiPath);
      } catch (error) {
        if (!isODataError(error)) throw error;
        response = errorResponse(error);
      }
      if (fault && (fault.kind === 'malformed-json' || fault.kind === 'wrong-type' || fault.kind === 'keyless') && response.status === 200) {
        const text = await response.text();
        response = new Response(faults.corrupt(fault, text), { status: response.status, headers: response.headers });
      }
      const { enabled, holdAnswers } = limits.settings();
      if (enabled && holdAnswers) {
        const wait = charge() / clock.scale - (performance.now() - startedAt);
        if (wait > 0) await sleep(wait);
      }
      for (const [name, value] of Object.entries(limits.headers(userId, server))) response.headers.set(name, value);
      status = response.status;
      return response;
    } catch (error) {
      status = 500;
      const response = errorResponse(errors.unexpected());
      response.headers.set('x-simulator-error', String((error as Error).message).slice(0, 200));
      return response;
    } finally {
      const executionMs = charge();
      admission.release(executionMs);
      record({ method, url: request.url, status: status || 0, userId, fault: fault?.kind ?? null, executionMs, rows: usage.rows, server });
    }
  };

  const fetchHandler = async (request: Request): Promise<Response> => {
    const requestUrl = new URL(request.url);
    const path = requestUrl.pathname;
    if (path.startsWith(CONTROL_PATH)) return handleControlRequest(control, request, requestUrl, () => info(requestUrl.origin));
    if (path.startsWith(API_PATH) || path === API_PATH.slice(0, -1)) {
      if (path === API_PATH.slice(0, -1)) requestUrl.pathname = API_PATH;
      return handleWebApi(request, requestUrl);
    }
    const authResponse = await auth.handle(request, requestUrl);
    if (authResponse) return authResponse;
    return new Response(`No simulated resource at ${path}. The Web API is under ${API_PATH}, the control API under ${CONTROL_PATH}.`, {
      status: 404,
      headers: { 'Content-Type': 'text/plain' },
    });
  };

  const handlers = [
    http.all(`${url}/*`, ({ request }) => fetchHandler(request)),
    ...(loginUrl === url ? [] : [http.all(`${loginUrl}/*`, ({ request }) => fetchHandler(request))]),
  ];

  return {
    url,
    loginUrl,
    tenantId,
    credentials,
    tokens,
    users: org.users,
    org,
    dataset,
    clock,
    control,
    bulkMessages,
    handlers,
    fetchHandler,
    webApiUrl,
    tokenUrl,
    info,
  };
}
