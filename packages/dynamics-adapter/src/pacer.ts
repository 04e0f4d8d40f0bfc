import { abortError } from './abort.js';

/**
 * Paces requests under Dataverse's service protection limits (a sliding window of requests and of
 * execution time per user) so that the budget is not run out, instead of learning it from a 429.
 *
 * Every response carries `x-ms-ratelimit-burst-remaining-xrm-requests` and
 * `x-ms-ratelimit-time-remaining-xrm-requests`. Microsoft says not to depend on them, so they are
 * hints: the pacer models the window from them, never waits longer than the model can justify, and
 * lets the service decide (a 429 with Retry-After) whenever the model cannot say.
 *
 * The limits apply per web server, and the headers report the window of the server that answered
 * (Microsoft: they reset when the affinity cookie routes you to another server). The adapter never
 * sends that cookie back, so its requests spread over every server: the pacer keeps one model per
 * server (named by the cookie the response sets) and lets a request go when every server it has
 * heard from has room for its share of the requests in flight, as the next one may land on any.
 */

/** Header names and how to read them: the time header is seconds with a thousands separator (`1,200.00`). */
const METERS = [
  { header: 'x-ms-ratelimit-time-remaining-xrm-requests', scale: 1000 },
  { header: 'x-ms-ratelimit-burst-remaining-xrm-requests', scale: 1 },
] as const;

/** The longest a request is held; then it goes and the service decides (a wrong window setting cannot stall). */
const MAX_WAIT_MS = 30_000;

/** One budget whose remainder the service reports. */
interface Meter {
  /** The latest reading. */
  last: { at: number; remaining: number } | null;
  /**
   * Charges seen appearing between two readings, stamped when they were seen (a little after they
   * were made, so the model frees them a little late: the safe side). Oldest first.
   */
  charges: Array<{ at: number; amount: number }>;
  /** Typical charge of one request (moving average). */
  perRequest: number;
  /**
   * The largest recent charge, decaying by a tenth a reading. Requests in flight are held at this,
   * not the average: a load mixes cheap key-only spine pages with whole-row range pages, the cheap
   * ones pull the average down, and the expensive ones are the ones in flight longest.
   */
  peak: number;
}

export interface PacerInput {
  enabled: boolean;
  windowMs: number;
  now: () => number;
  /** Rejects when `signal` aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface Pacer {
  /** Waits until one more request can start without running out a budget; counts it in flight. */
  acquire(signal?: AbortSignal): Promise<void>;
  /**
   * The request ended; `headers` of its response when there was one, and the web server that
   * answered (its affinity cookie value; '' when the service names none).
   */
  release(headers: Headers | null, server?: string): void;
  /** Whether a response has carried a readable rate-limit header. */
  limited(): boolean;
}

/** The remainder a header reports, in the meter's unit; null when absent or unreadable. */
export function readRemaining(headers: Headers, name: string, scale: number): number | null {
  const raw = headers.get(name);
  if (raw === null) return null;
  const value = Number(raw.replace(/,/g, '').trim());
  return raw.trim() !== '' && Number.isFinite(value) && value >= 0 ? value * scale : null;
}

export function createPacer(input: PacerInput): Pacer {
  const { windowMs, now, sleep } = input;
  /** Per web server, one meter per header; a server unheard of for a window is forgotten. */
  const servers = new Map<string, { meters: Meter[]; heardAt: number }>();
  let inflight = 0;
  /** Whether any response has carried a readable rate-limit header (forgetting a server does not undo it). */
  let heard = false;
  const wakers = new Set<() => void>();

  /** Charges the model frees between `from` (excluded) and `to`. */
  const freed = (meter: Meter, from: number, to: number): number => {
    let sum = 0;
    for (const charge of meter.charges) {
      const out = charge.at + windowMs;
      if (out > from && out <= to) sum += charge.amount;
    }
    return sum;
  };

  const observe = (meter: Meter, at: number, remaining: number): void => {
    const last = meter.last;
    meter.last = { at, remaining };
    if (last === null) return;
    const drift = last.remaining + freed(meter, last.at, at) - remaining;
    if (drift >= 0) {
      if (drift > 0) meter.charges.push({ at, amount: drift });
      meter.perRequest = meter.perRequest === 0 ? drift : 0.7 * meter.perRequest + 0.3 * drift;
      meter.peak = Math.max(drift, 0.9 * meter.peak);
    } else {
      // More came back than modelled: the oldest charges already left the window, so they must
      // not be counted as coming back later.
      let excess = -drift;
      for (const charge of meter.charges) {
        if (excess <= 0) break;
        if (charge.at + windowMs <= at) continue;
        const taken = Math.min(charge.amount, excess);
        charge.amount -= taken;
        excess -= taken;
      }
    }
    meter.charges = meter.charges.filter((charge) => charge.amount > 0 && charge.at + windowMs > at);
  };

  /**
   * 0 = go now; a number = wait that long; null = the model cannot tell when. `share`: requests in
   * flight on this meter's server; `part`: the part of this request it must hold room for (1 with
   * one server; with n, each holds 1/n, so together they hold one request wherever it lands).
   */
  const waitFor = (meter: Meter, at: number, share: number, part: number): number | null => {
    if (meter.last === null) return 0;
    // In flight and the last responder (charged after its headers were written), each held at the
    // recent peak; this request at the average.
    const held = Math.max(meter.peak, meter.perRequest);
    let room = meter.last.remaining + freed(meter, meter.last.at, at) - (share + 1) * held - part * meter.perRequest;
    if (room >= 0) return 0;
    for (const charge of meter.charges) {
      const out = charge.at + windowMs;
      if (out <= at) continue;
      room += charge.amount;
      if (room >= 0) return out - at;
    }
    return null;
  };

  const nap = async (ms: number, signal: AbortSignal | undefined): Promise<void> => {
    const local = new AbortController();
    const stop = () => local.abort();
    signal?.addEventListener('abort', stop, { once: true });
    wakers.add(stop);
    try {
      await sleep(ms, local.signal).catch(() => {});
    } finally {
      wakers.delete(stop);
      signal?.removeEventListener('abort', stop);
    }
    if (signal?.aborted) throw abortError(signal.reason);
  };

  return {
    async acquire(signal) {
      const started = now();
      while (input.enabled) {
        if (signal?.aborted) throw abortError(signal.reason);
        const at = now();
        let wait = 0;
        let unknown = false;
        for (const [name, server] of servers) {
          if (server.heardAt + windowMs <= at) servers.delete(name);
        }
        // Requests spread evenly over the servers (the service balances them), so each holds its share.
        const share = inflight / Math.max(1, servers.size);
        for (const server of servers.values()) {
          for (const meter of server.meters) {
            const ms = waitFor(meter, at, share, 1 / Math.max(1, servers.size));
            if (ms === null) unknown = true;
            else wait = Math.max(wait, ms);
          }
        }
        if (unknown && inflight === 0) break; // nothing in flight will tell more: the service decides
        if (!unknown && wait <= 0) break;
        const left = started + MAX_WAIT_MS - at;
        if (left <= 0) break;
        // A response (a new reading) wakes every waiter early.
        await nap(Math.min(unknown ? windowMs : wait, left), signal);
      }
      inflight += 1;
    },
    release(headers, name = '') {
      inflight = Math.max(0, inflight - 1);
      if (!headers || !input.enabled) return;
      const at = now();
      const readings = METERS.map((spec) => readRemaining(headers, spec.header, spec.scale));
      if (readings.every((remaining) => remaining === null)) return;
      let server = servers.get(name);
      if (!server) {
        server = { meters: METERS.map(() => ({ last: null, charges: [], perRequest: 0, peak: 0 })), heardAt: at };
        servers.set(name, server);
      }
      server.heardAt = at;
      heard = true;
      readings.forEach((remaining, index) => {
        if (remaining !== null) observe(server.meters[index]!, at, remaining);
      });
      for (const wake of [...wakers]) wake();
    },
    limited: () => heard,
  };
}
