import { createHash } from 'node:crypto';
import type { Clock } from './clock.js';
import { odataError } from './odata/errors.js';
import type { ODataError } from './odata/errors.js';

/** Service protection API limits, per user, over a sliding window (documented defaults). */
export interface LimitSettings {
  enabled: boolean;
  windowMs: number;
  maxRequests: number;
  maxExecutionMs: number;
  maxConcurrent: number;
  /**
   * Simulated execution time per request: baseMs + perRowMs × rows returned + perColumnMs × column
   * values returned besides the primary key + perWriteMs × rows written. With perColumnMs a page of
   * keys alone costs less than a page of whole rows, as selecting fewer columns does on Dataverse.
   */
  cost: { baseMs: number; perRowMs: number; perColumnMs: number; perWriteMs: number };
  /**
   * Each answer waits out its simulated execution time (in real ms: divided by the clock scale), as
   * the real service takes that long to run a request; a request waiting holds its concurrency slot.
   * Off by default: answers come as fast as they are computed and tests stay fast.
   */
  holdAnswers: boolean;
  /**
   * The `x-ms-dop-hint` sent on every response: the recommended number of requests in parallel. It
   * falls as the caller's window fills (see `dopHint()`); the real value varies by environment.
   */
  dopHint: number;
  /**
   * Web servers the org runs on. Each keeps its own windows (the limits apply per user per web
   * server) and its own count of requests in flight; requests carrying the `ARRAffinity` cookie go
   * to the server it names, others to the least loaded one.
   */
  webServers: number;
}

export const DEFAULT_LIMITS: LimitSettings = {
  enabled: true,
  windowMs: 300_000,
  maxRequests: 6000,
  maxExecutionMs: 1_200_000,
  maxConcurrent: 52,
  cost: { baseMs: 10, perRowMs: 0.4, perColumnMs: 0, perWriteMs: 25 },
  holdAnswers: false,
  dopHint: 8,
  webServers: 1,
};

/** The affinity cookies (Azure App Service's ARR names; the SameSite one is the same value for browsers). */
export const AFFINITY_COOKIES = ['ARRAffinity', 'ARRAffinitySameSite'] as const;
/** The most web servers an org may be given. */
export const MAX_WEB_SERVERS = 64;

export type LimitsInput = Partial<Omit<LimitSettings, 'cost'>> & { cost?: Partial<LimitSettings['cost']> };

interface UserWindow {
  requests: number[];
  executions: Array<{ at: number; ms: number }>;
  executionTotal: number;
  concurrent: number;
}

export interface Admission {
  /** Ends the request; its simulated execution time joins the window. */
  release(executionMs: number): void;
}

export interface ServiceProtection {
  settings(): LimitSettings;
  update(input: LimitsInput): LimitSettings;
  /**
   * The web server (0-based) that takes a request: the one its affinity cookie value names, else the
   * one with the fewest requests in flight (ties: the next after the last chosen, round robin).
   */
  route(affinity: string | null): number;
  /** The affinity cookie value naming a server (64 hex digits, like Azure's; stable per server index). */
  affinity(server: number): string;
  /** Admits a request on a server (default 0) or returns the 429 error to send. */
  admit(userId: string, server?: number): Admission | ODataError;
  /** The x-ms-ratelimit-* headers for a user on a server; none while the limits are disabled (an org under no pressure). */
  headers(userId: string, server?: number): Record<string, string>;
  /**
   * The recommended degree of parallelism for a user: the configured hint while its window on the
   * server that answers is at most half used (requests or concurrent requests), then falling
   * linearly to 1 as it fills.
   */
  dopHint(userId: string | null, server?: number): number;
  executionMs(usage: { rows: number; columnValues: number; writes: number }): number;
  reset(): void;
}

const thousands = new Intl.NumberFormat('en-US');
const seconds = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function checkServers(settings: LimitSettings): LimitSettings {
  const servers = settings.webServers;
  if (!Number.isInteger(servers) || servers < 1 || servers > MAX_WEB_SERVERS) {
    throw new RangeError(`limits.webServers must be a whole number from 1 to ${MAX_WEB_SERVERS}, got ${String(servers)}`);
  }
  return settings;
}

export function mergeLimits(base: LimitSettings, input: LimitsInput): LimitSettings {
  return { ...base, ...input, cost: { ...base.cost, ...input.cost } };
}

export function createServiceProtection(clock: Clock, initial: LimitsInput = {}): ServiceProtection {
  let settings = checkServers(mergeLimits(DEFAULT_LIMITS, initial));
  /** Per server, then per user. */
  const windows = new Map<string, UserWindow>();
  /** Requests in flight per server, all users. */
  const inFlight: number[] = [];
  let lastRouted = -1;
  const affinities: string[] = [];
  const affinity = (server: number): string =>
    (affinities[server] ??= createHash('sha256').update(`crm-sync simulator web server ${server}`).digest('hex'));

  const windowOf = (userId: string, server: number): UserWindow => {
    const key = `${server}\u0000${userId}`;
    let window = windows.get(key);
    if (!window) {
      window = { requests: [], executions: [], executionTotal: 0, concurrent: 0 };
      windows.set(key, window);
    }
    const cutoff = clock.now() - settings.windowMs;
    let drop = 0;
    while (drop < window.requests.length && window.requests[drop]! <= cutoff) drop++;
    if (drop) window.requests.splice(0, drop);
    drop = 0;
    while (drop < window.executions.length && window.executions[drop]!.at <= cutoff) {
      window.executionTotal -= window.executions[drop]!.ms;
      drop++;
    }
    if (drop) window.executions.splice(0, drop);
    return window;
  };

  // Retry-After is in real seconds: a scaled clock makes the wait shorter by the same factor.
  const retryAfter = (simulatedMs: number): string => String(Math.max(1, Math.ceil(simulatedMs / clock.scale / 1000)));
  const windowSeconds = (): string => String(Math.round(settings.windowMs / 1000));

  return {
    settings: () => settings,
    update: (input) => {
      settings = checkServers(mergeLimits(settings, input));
      return settings;
    },
    route: (value) => {
      const servers = settings.webServers;
      if (value !== null) {
        for (let server = 0; server < servers; server++) if (affinity(server) === value) return server;
      }
      // Least loaded; among equals, the next after the last one chosen.
      let best = -1;
      for (let step = 1; step <= servers; step++) {
        const server = (lastRouted + step) % servers;
        if (best < 0 || (inFlight[server] ?? 0) < (inFlight[best] ?? 0)) best = server;
      }
      lastRouted = best;
      return best;
    },
    affinity,
    admit: (userId, server = 0) => {
      const window = windowOf(userId, server);
      const now = clock.now();
      const release = (executionMs: number): void => {
        window.concurrent -= 1;
        inFlight[server] = (inFlight[server] ?? 1) - 1;
        window.executions.push({ at: clock.now(), ms: executionMs });
        window.executionTotal += executionMs;
      };
      const start = (): Admission => {
        window.requests.push(now);
        window.concurrent += 1;
        inFlight[server] = (inFlight[server] ?? 0) + 1;
        return { release };
      };
      if (!settings.enabled) return start();
      // Concurrency is enforced at once.
      if (window.concurrent >= settings.maxConcurrent) {
        window.requests.push(now);
        return odataError(429, '0x80072326', `Number of concurrent requests exceeded the limit of ${settings.maxConcurrent}.`, { 'Retry-After': retryAfter(1000) });
      }
      // Count and time are enforced only once already exceeded; rejected requests still count, so hammering extends the wait.
      if (window.requests.length > settings.maxRequests) {
        window.requests.push(now);
        const freeAt = window.requests[window.requests.length - settings.maxRequests - 1]! + settings.windowMs;
        return odataError(
          429,
          '0x80072322',
          `Number of requests exceeded the limit of ${settings.maxRequests} over time window of ${windowSeconds()} seconds.`,
          { 'Retry-After': retryAfter(freeAt - now) },
        );
      }
      if (window.executionTotal > settings.maxExecutionMs) {
        window.requests.push(now);
        let excess = window.executionTotal - settings.maxExecutionMs;
        let freeAt = now;
        for (const execution of window.executions) {
          excess -= execution.ms;
          freeAt = execution.at + settings.windowMs;
          if (excess <= 0) break;
        }
        return odataError(
          429,
          '0x80072321',
          `Combined execution time of incoming requests exceeded limit of ${thousands.format(settings.maxExecutionMs)}  milliseconds over time window of ${windowSeconds()} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.`,
          { 'Retry-After': retryAfter(freeAt - now) },
        );
      }
      return start();
    },
    headers: (userId, server = 0): Record<string, string> => {
      // Disabled limits model a service with no pressure: no hints a client could pace itself by.
      if (!settings.enabled) return {};
      const window = windowOf(userId, server);
      return {
        'x-ms-ratelimit-burst-remaining-xrm-requests': String(Math.max(0, settings.maxRequests - window.requests.length)),
        'x-ms-ratelimit-time-remaining-xrm-requests': seconds.format(Math.max(0, settings.maxExecutionMs - window.executionTotal) / 1000),
      };
    },
    dopHint: (userId, server = 0) => {
      const hint = Math.max(1, Math.floor(settings.dopHint));
      if (!settings.enabled || userId === null) return hint;
      const window = windowOf(userId, server);
      // Pressure the hint stands for: requests and requests in flight. Execution time is left out: a
      // client that paces itself by the remaining execution time (the ratelimit headers) runs near
      // that budget by design, and a hint falling with it would starve a load the limits allow.
      const load = Math.max(
        settings.maxRequests > 0 ? window.requests.length / settings.maxRequests : 1,
        window.concurrent / settings.maxConcurrent,
      );
      if (load <= 0.5) return hint;
      return Math.max(1, Math.floor(hint * Math.max(0, (1 - load) * 2)));
    },
    executionMs: (usage) =>
      settings.cost.baseMs + settings.cost.perRowMs * usage.rows + settings.cost.perColumnMs * usage.columnValues + settings.cost.perWriteMs * usage.writes,
    reset: () => windows.clear(),
  };
}
