import { setTimeout as delay } from 'node:timers/promises';
import { isSyncError, SyncError } from '@crm-sync/core';
import type { SyncErrorCode } from '@crm-sync/core';
import { abortError } from './abort.js';
import type { TokenProvider } from './auth.js';
import type { EventSink } from './events.js';
import { parseErrorBody } from './odata/error-body.js';
import { describeNetworkFailure } from './network.js';
import type { NetworkFailure } from './network.js';
import type { FetchLike, ResolvedOptions } from './options.js';
import { createPacer } from './pacer.js';
import type { Redactor } from './redact.js';
import { entitySetOf, traceRequest } from './tracing.js';
import type { RequestTrace } from './tracing.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method: HttpMethod;
  /** A path below the Web API root (`contacts?$select=name`) or an absolute link the service returned. */
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Statuses the caller handles (returned instead of thrown), e.g. 412 on a conditional write. */
  pass?: (status: number) => boolean;
  /**
   * How many requests the service counts this one as against its daily entitlement limits: each
   * record of a bulk message. Default: the operations inside a `$batch` body, else 1.
   */
  operations?: number;
  signal?: AbortSignal | undefined;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
}

export interface HttpClient {
  /** The Web API root, ending in `/`. */
  readonly root: string;
  send(request: HttpRequest): Promise<HttpResponse>;
  /**
   * A link from the service or a checkpoint, as a URL on this environment's Web API, or null if it
   * points elsewhere. The bearer token is only ever sent to the configured environment.
   */
  resolve(link: string): string | null;
  /** Removes secrets and tokens from text that is about to be shown. */
  redact(text: string): string;
  /** 429s answered so far (the initial-load pool shrinks when this grows). */
  throttleCount(): number;
  /** Whether a response has carried the service protection headers (the service enforces limits). */
  limited(): boolean;
  /**
   * Requests allowed in flight now: the service's latest `x-ms-dop-hint` divided by the clients that
   * share it (`sharedBy`, at least 1), never above `maxConcurrency` when it is set (50 when not);
   * before any hint, `maxConcurrency`, or 8 divided the same way.
   */
  concurrency(): number;
  /**
   * Web servers that answered within the last service protection window (told apart by the
   * `ARRAffinity` cookie each response sets, never sent back); at least 1.
   */
  servers(): number;
  /** `runners` clients share the org's parallelism from now on (see `sharedBy`); applies at once. */
  share(runners: number): void;
}

/** Replaceable for tests: time and randomness. */
export interface HttpDeps {
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

export interface HttpClientInput {
  options: Pick<ResolvedOptions, 'environmentUrl' | 'apiPath' | 'maxConcurrency' | 'retry'> & Partial<Pick<ResolvedOptions, 'serviceProtection' | 'sharedBy'>>;
  fetch: FetchLike;
  tokens: TokenProvider;
  redactor: Redactor;
  emit: EventSink;
  deps?: HttpDeps;
}

const TRANSIENT = new Set([500, 502, 503, 504]);
const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
const statusText = (status: number): string => (status === 0 ? 'no response' : `${status} ${REASONS[status] ?? ''}`.trim());

export { abortError };

async function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (error) {
    throw abortError(error);
  }
}

/** A FIFO semaphore: at most `max` requests in flight; `resize` changes `max` at any time. */
function createLimiter(initial: number) {
  let max = initial;
  let active = 0;
  const waiting: Array<{ grant: () => void }> = [];
  // After a release or a larger max, slots go to waiters in order; a smaller max lets in-flight requests finish.
  const drain = (): void => {
    while (active < max && waiting.length > 0) {
      active += 1;
      waiting.shift()!.grant();
    }
  };
  return {
    async acquire(signal?: AbortSignal): Promise<void> {
      if (signal?.aborted) throw abortError(signal.reason);
      if (active < max && waiting.length === 0) {
        active += 1;
        return;
      }
      await new Promise<void>((resolve, reject) => {
        const entry = {
          grant: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        const onAbort = () => {
          const index = waiting.indexOf(entry);
          if (index >= 0) waiting.splice(index, 1);
          reject(abortError(signal?.reason));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiting.push(entry);
      });
    },
    release(): void {
      active -= 1;
      drain();
    },
    resize(next: number): void {
      max = next;
      drain();
    },
  };
}

/** Requests in flight before the service has sent `x-ms-dop-hint`, when `maxConcurrency` is not set. */
export const CONCURRENCY_BEFORE_HINT = 8;
/** The most requests in flight a hint can ask for when `maxConcurrency` is not set (the concurrency limit is 52 or more). */
export const CONCURRENCY_CEILING = 50;

/** The operations of a `$batch` body (each is its own part, counted by the entitlement limits); 1 for any other request. */
export function batchOperations(request: Pick<HttpRequest, 'url' | 'body'>): number {
  if (!/(^|\/)\$batch$/.test(request.url) || request.body === undefined) return 1;
  return Math.max(1, request.body.match(/^Content-Type: application\/http\r?$/gim)?.length ?? 0);
}

/** `x-ms-dop-hint` as a whole number of at least 1; null when absent or unreadable. */
export function readDopHint(headers: Headers): number | null {
  const raw = headers.get('x-ms-dop-hint');
  if (raw === null || !/^\s*\d+\s*$/.test(raw)) return null;
  const value = Number(raw);
  return value >= 1 ? value : null;
}

/**
 * The web server that answered: the value of the `ARRAffinity` cookie the response sets (Azure's
 * load balancer names the server in it), or '' when there is none.
 */
export function answeringServer(headers: Headers): string {
  for (const line of headers.getSetCookie()) {
    const match = /^\s*ARRAffinity=([^;]*)/.exec(line);
    if (match) return match[1]!.trim();
  }
  return '';
}

/** `Retry-After` in ms: delta-seconds (possibly fractional) or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null || value.trim() === '') return null;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/**
 * Request headers without `Cookie`: the adapter never sends the service's affinity cookie back, so
 * its requests spread over every web server (Microsoft's advice for throughput: "Send parallel
 * requests", section Server affinity), and no caller can pin it by passing one.
 */
function withoutCookies(headers: Record<string, string> | undefined): Record<string, string> {
  if (!headers) return {};
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'cookie'));
}

export function createHttpClient(input: HttpClientInput): HttpClient {
  const { options, tokens, redactor, emit } = input;
  const { retry } = options;
  const sleep = input.deps?.sleep ?? defaultSleep;
  const random = input.deps?.random ?? Math.random;
  const now = input.deps?.now ?? (() => performance.now());
  const env = new URL(options.environmentUrl);
  const root = `${env.origin}${options.apiPath}/`;
  const ceiling = options.maxConcurrency ?? CONCURRENCY_CEILING;
  let sharedBy = options.sharedBy ?? 1;
  /** The org's latest hint; null before the first. */
  let lastHint: number | null = null;
  /** Our share of the hint (Microsoft: two clients and a hint of 50 take 25 each); the configured maximum stays the bound. */
  const allowed = (): number => {
    if (lastHint === null) return options.maxConcurrency ?? Math.max(1, Math.floor(CONCURRENCY_BEFORE_HINT / sharedBy));
    return Math.min(ceiling, Math.max(1, Math.floor(lastHint / sharedBy)));
  };
  let concurrency = allowed();
  const limiter = createLimiter(concurrency);
  const resize = (): void => {
    const next = allowed();
    if (next === concurrency) return;
    concurrency = next;
    limiter.resize(next);
  };
  /** Follows the service's recommended degree of parallelism as it changes. */
  const followHint = (hint: number | null): void => {
    if (hint === null) return;
    lastHint = hint;
    resize();
  };
  const share = (runners: number): void => {
    sharedBy = Math.max(1, Math.floor(runners) || 1);
    resize();
  };
  const protection = options.serviceProtection ?? { pacing: false, windowMs: 300_000 };
  const pacer = createPacer({ enabled: protection.pacing, windowMs: protection.windowMs, now, sleep });
  /** Web servers heard from, and when last (a server silent for a window is no longer counted). */
  const heardFrom = new Map<string, number>();
  // After a 429 every request waits: hammering a throttled server only extends Retry-After.
  let pausedUntil = 0;
  let throttles = 0;
  // Once the environment has answered, a refused connection is a restart worth retrying, not a wrong address.
  let answered = false;

  const resolve = (link: string): string | null => {
    let url: URL;
    try {
      url = new URL(link, root);
    } catch {
      return null;
    }
    // Links are rebased onto the configured origin; anything outside the Web API path is refused.
    if (!(url.pathname + '/').startsWith(options.apiPath + '/')) return null;
    return `${env.origin}${url.pathname}${url.search}`;
  };

  const pathOf = (url: string): string => {
    try {
      return new URL(url).pathname;
    } catch {
      return '(invalid url)';
    }
  };

  // Each request in its own client span (tracing.ts); the loop reports attempts and throttling to it.
  const send = (request: HttpRequest): Promise<HttpResponse> => {
    const url = resolve(request.url);
    const entitySet = url === null ? '(refused)' : entitySetOf(pathOf(url), options.apiPath);
    return traceRequest(request.method, entitySet, env.host, (trace) => sendTraced(request, trace));
  };

  const sendTraced = async (request: HttpRequest, trace: RequestTrace): Promise<HttpResponse> => {
    const url = resolve(request.url);
    const { method, signal } = request;
    if (url === null) {
      throw new SyncError('CRM_REQUEST_REJECTED', `[dynamics-adapter] Refusing to send ${method} to a URL outside ${root}`, {
        details: { method },
      });
    }
    const path = pathOf(url);
    const what = `${method} ${path}`;
    const started = now();
    let attempt = 0;
    let forceToken = false;
    let refreshed = false;
    let lastCause: unknown;
    /** The last attempt's failure in words (`503 Service Unavailable (...)`, `no response: ...`). */
    let lastText: string;
    /** Set when the last attempt failed at the token step: no request reached the Web API. */
    let tokenFailure: SyncError | null;
    /** The last attempt's network failure, when it got no answer. */
    let network: NetworkFailure | null = null;

    for (;;) {
      attempt += 1;
      if (signal?.aborted) throw abortError(signal.reason);
      // Wait out a 429 pause, then the pacer; a slot granted while another request got throttled goes back.
      for (;;) {
        while (now() < pausedUntil) await sleep(pausedUntil - now(), signal);
        await pacer.acquire(signal);
        try {
          await limiter.acquire(signal);
        } catch (error) {
          pacer.release(null);
          throw error;
        }
        if (now() >= pausedUntil) break;
        limiter.release();
        pacer.release(null);
      }

      let response: Response | undefined;
      let text = '';
      let failure: unknown;
      tokenFailure = null;
      const attemptStarted = now();
      try {
        const token = await tokens.getToken(forceToken);
        forceToken = false;
        const headers: Record<string, string> = {
          Accept: 'application/json',
          'OData-Version': '4.0',
          'OData-MaxVersion': '4.0',
          ...(request.body !== undefined ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
          ...withoutCookies(request.headers),
          Authorization: `Bearer ${token}`,
        };
        const timeout = AbortSignal.timeout(retry.requestTimeoutMs);
        const init: RequestInit = { method, headers, signal: signal ? AbortSignal.any([signal, timeout]) : timeout };
        if (request.body !== undefined) init.body = request.body;
        response = await input.fetch(url, init);
        text = await response.text();
      } catch (error) {
        if (signal?.aborted) throw abortError(signal.reason);
        if (isSyncError(error)) {
          // The token step failed. One that may pass (the authority did not answer in time) is retried
          // like a dropped connection; anything else (refused credentials, an unreachable authority) ends the request.
          if (error.code !== 'CRM_UNAVAILABLE') throw error;
          tokenFailure = error;
        }
        failure = error;
        response = undefined;
      } finally {
        limiter.release();
        const server = response ? answeringServer(response.headers) : '';
        if (server !== '') heardFrom.set(server, now());
        pacer.release(response?.headers ?? null, server);
      }

      const status = response?.status ?? 0;
      if (!tokenFailure) trace.attempt(status);
      const durationMs = now() - attemptStarted;
      const dopHint = response ? readDopHint(response.headers) : null;
      followHint(dopHint);
      if (response) answered = true;
      // A failed token request sent nothing to the Web API: no request to report.
      if (!tokenFailure) {
        const operations = request.operations ?? batchOperations(request);
        emit({
          type: 'request', method, path, status, attempt, durationMs: Math.round(durationMs),
          ...(dopHint !== null ? { dopHint, concurrency } : {}), ...(operations > 1 ? { operations } : {}),
        });
      }

      if (response && (response.ok || request.pass?.(status))) {
        return { status, headers: response.headers, text };
      }

      const body = response ? parseErrorBody(text) : null;
      const crm = body ? ` (${body.code || 'no code'}) ${redactor.redact(body.message)}` : '';
      const details = { method, path, status, crmCode: body?.code ?? null, crmMessage: body ? redactor.redact(body.message) : null };

      let waitMs: number;
      let reason: 'throttled' | 'server-error' | 'network';
      if (!response) {
        reason = 'network';
        waitMs = backoff(attempt);
        if (tokenFailure) {
          lastCause = tokenFailure;
          lastText = tokenFailure.message;
        } else {
          lastCause = redactor.error(failure);
          network = describeNetworkFailure(failure, answered);
          lastText = `no response: ${redactor.redact(network.text)}`;
          if (network.permanent) {
            const elapsedMs = Math.round(now() - started);
            throw new SyncError('CRM_UNREACHABLE', `[dynamics-adapter] ${what} could not reach ${env.host}: ${redactor.redact(network.text)} (not retried: trying again cannot help)`, {
              cause: lastCause,
              details: { ...details, networkCode: network.code, attempts: attempt, elapsedMs, scope: 'org' },
            });
          }
        }
      } else if (status === 401) {
        // One forced token refresh: the token may have been revoked or rotated early.
        if (!refreshed) {
          refreshed = true;
          forceToken = true;
          attempt -= 1;
          continue;
        }
        throw new SyncError('CRM_AUTH_FAILED', `[dynamics-adapter] ${what} was refused with 401 even with a fresh token${crm}`, { details });
      } else if (status === 403) {
        throw new SyncError('CRM_AUTH_FAILED', `[dynamics-adapter] ${what} was refused with 403: the sync user lacks a privilege${crm}`, {
          details,
        });
      } else if (status === 429) {
        reason = 'throttled';
        const retryAfter = parseRetryAfter(response.headers.get('retry-after'), Date.now());
        // Without Retry-After, Microsoft's sample waits 2^attempt seconds.
        waitMs = Math.min(retry.maxRetryAfterMs, retryAfter ?? 1000 * 2 ** Math.min(attempt, 8));
        pausedUntil = Math.max(pausedUntil, now() + waitMs);
        throttles += 1;
        trace.throttled(waitMs);
        emit({ type: 'throttled', method, path, retryAfterMs: waitMs });
        lastCause = new Error(`HTTP 429${crm}`);
        lastText = `${statusText(status)}${crm}`;
      } else if (TRANSIENT.has(status)) {
        reason = 'server-error';
        waitMs = backoff(attempt);
        lastCause = new Error(`HTTP ${status}${crm}`);
        lastText = `${statusText(status)}${crm}`;
      } else {
        throw new SyncError('CRM_REQUEST_REJECTED', `[dynamics-adapter] ${what} was rejected: ${statusText(status)}${crm}`, { details });
      }
      const elapsed = now() - started;
      if (attempt >= retry.maxAttempts || elapsed + waitMs > retry.budgetMs) {
        const seconds = (elapsed / 1000).toFixed(1);
        // What actually ended the retries: the attempts, or a wait that would pass the time budget.
        const spent =
          attempt >= retry.maxAttempts
            ? `gave up after ${attempt} attempts (the limit)`
            : `gave up: waiting ${(waitMs / 1000).toFixed(1)} s more would pass the retry budget of ${(retry.budgetMs / 1000).toFixed(1)} s`;
        const progress = { attempts: attempt, elapsedMs: Math.round(elapsed) };
        if (tokenFailure) {
          throw new SyncError('CRM_UNAVAILABLE', `${tokenFailure.message}, ${attempt} time(s) in ${seconds} s; ${spent}; no request reached the Web API`, {
            cause: tokenFailure.cause,
            details: { ...tokenFailure.details, method, path, ...progress, scope: 'org' },
          });
        }
        const code: SyncErrorCode = status === 429 ? 'CRM_RATE_LIMITED' : 'CRM_UNAVAILABLE';
        // No connection at all for the whole budget: the org is down or out of reach, not one table
        // (a request that only timed out may be a slow query of one table).
        const orgWide = !response && network !== null && network.code !== 'TIMEOUT';
        throw new SyncError(code, `[dynamics-adapter] ${what} failed ${attempt} time(s) in ${seconds} s, last with ${lastText}; ${spent}`, {
          cause: lastCause,
          details: { ...details, ...progress, ...(orgWide ? { scope: 'org' } : {}) },
        });
      }
      emit({ type: 'retry', method, path, reason, status, attempt, waitMs: Math.round(waitMs) });
      if (reason !== 'throttled') await sleep(waitMs, signal);
    }
  };

  // Full jitter: a random wait up to an exponentially growing cap.
  function backoff(attempt: number): number {
    const cap = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
    return random() * cap;
  }

  const servers = (): number => {
    const since = now() - protection.windowMs;
    for (const [server, at] of heardFrom) if (at <= since) heardFrom.delete(server);
    return Math.max(1, heardFrom.size);
  };

  return { root, send, resolve, redact: redactor.redact, throttleCount: () => throttles, limited: pacer.limited, concurrency: () => concurrency, servers, share };
}
