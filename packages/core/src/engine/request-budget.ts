import type { SyncStore } from '../contracts/store.js';
import { SyncError } from '../errors.js';

/**
 * The daily request budget. A CRM counts an application's requests against a pool per rolling 24
 * hours (Dataverse: the tenant's entitlement pool for application users); several runners on one
 * store draw on the same pool. Each runner counts the requests it sends in 15-minute buckets under
 * state keys of its own (`requests:<bucket start ms>:<runner>`, so no two runners write one key),
 * and the usage is the sum of every runner's buckets that overlap the last 24 hours (`listState`).
 * A bucket counts whole while any part of it lies in the window, so the sum errs high by at most
 * 15 minutes of traffic, never low.
 */
export const BUDGET_BUCKET_MS = 15 * 60_000;
export const BUDGET_WINDOW_MS = 24 * 3_600_000;
/** From this share of the budget on, the wait between cycles grows (see `budgetWait`). */
export const BUDGET_SLOW_FROM = 0.8;
/** Counts reach the store this long after a request at the latest (and at each cycle's end). */
const FLUSH_AFTER_MS = 5_000;
const PREFIX = 'requests:';

/** Requests in the rolling 24 hours against the budget. */
export interface RequestUsage {
  /** Requests of every runner on the store in the last 24 hours (only this runner's with `ownOnly`). */
  used: number;
  /** The cap (`crm.dailyRequestBudget`); null: counted, not capped. */
  budget: number | null;
  /** `used / budget`, null without a budget. */
  share: number | null;
  /**
   * ok: under `BUDGET_SLOW_FROM`; slowed: from there on, the wait between cycles grows; spent: the
   * budget is used up, no cycle starts until the window frees room (`roomAt`).
   */
  state: 'ok' | 'slowed' | 'spent';
  /** When enough requests leave the window to be under the budget again (spent only), else null. */
  roomAt: string | null;
  /** The store cannot list state (no `listState`): only this runner's own requests are counted. */
  ownOnly: boolean;
}

export interface RequestLedger {
  /** Counts `n` requests sent now (the runner calls it for each request its CRM plugin reports). */
  count(n?: number): void;
  /** Writes the counts not yet in the store. */
  flush(): Promise<void>;
  /** The rolling 24-hour usage, counts not yet written included. */
  usage(): Promise<RequestUsage>;
}

export interface RequestLedgerOptions {
  /** The store without fencing: counts are written whatever leases this runner holds. */
  store: SyncStore;
  owner: string;
  budget: number | null;
  now: () => Date;
}

const bucketOf = (ms: number): number => Math.floor(ms / BUDGET_BUCKET_MS) * BUDGET_BUCKET_MS;
const keyOf = (bucket: number, owner: string): string => `${PREFIX}${bucket}:${owner}`;

/** The bucket start of a key, or null when it is no request count. */
function parseKey(key: string): number | null {
  const rest = key.slice(PREFIX.length);
  const bucket = Number(rest.slice(0, rest.indexOf(':')));
  return key.startsWith(PREFIX) && rest.includes(':') && Number.isSafeInteger(bucket) ? bucket : null;
}

const toCount = (value: string | null | undefined): number => {
  const n = Number(value ?? 0);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
};

/** What the usage means against the budget, from the buckets that overlap the window. */
export function judgeUsage(buckets: ReadonlyMap<number, number>, budget: number | null, nowMs: number, ownOnly: boolean): RequestUsage {
  const from = nowMs - BUDGET_WINDOW_MS;
  const live = [...buckets].filter(([start]) => start + BUDGET_BUCKET_MS > from).sort((a, b) => a[0] - b[0]);
  const used = live.reduce((sum, [, n]) => sum + n, 0);
  if (budget === null) return { used, budget, share: null, state: 'ok', roomAt: null, ownOnly };
  const share = used / budget;
  if (used < budget) return { used, budget, share, state: share >= BUDGET_SLOW_FROM ? 'slowed' : 'ok', roomAt: null, ownOnly };
  // Spent: the oldest buckets leave the window one by one until the rest is under the budget.
  let left = used;
  let roomAt = nowMs;
  for (const [start, n] of live) {
    left -= n;
    roomAt = start + BUDGET_BUCKET_MS + BUDGET_WINDOW_MS;
    if (left < budget) break;
  }
  return { used, budget, share, state: 'spent', roomAt: new Date(roomAt).toISOString(), ownOnly };
}

/**
 * The wait before the next cycle under the budget: the interval below `BUDGET_SLOW_FROM` (80%); from
 * there it doubles for each further 5% of the budget (2x at 85%, 4x at 90%, 8x at 95%); once spent,
 * until the window frees room (`roomAt`), at least the interval.
 */
export function budgetWait(usage: RequestUsage, intervalMs: number, nowMs: number): number {
  if (usage.state === 'spent') return Math.max(intervalMs, Date.parse(usage.roomAt ?? '') - nowMs || 0);
  if (usage.state === 'slowed') return Math.round(intervalMs * 2 ** (((usage.share ?? 0) - BUDGET_SLOW_FROM) / 0.05));
  return intervalMs;
}

/** Words for the status and the log. */
export function describeUsage(usage: RequestUsage, waitMs?: number): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const of = usage.budget === null ? `${n(usage.used)} requests` : `${n(usage.used)} of ${n(usage.budget)} requests (${Math.floor((usage.share ?? 0) * 100)}%)`;
  const whose = usage.ownOnly ? " (this runner's only: the store cannot list the others')" : '';
  const base = `daily request budget: ${of} in the last 24 hours${whose}`;
  const minutes = waitMs === undefined ? '' : `${Math.round(waitMs / 60_000)} min`;
  if (usage.state === 'spent') return `${base}; spent: no cycle starts until ${usage.roomAt}, when the oldest requests leave the window`;
  if (usage.state === 'slowed') return `${base}; above ${BUDGET_SLOW_FROM * 100}%: cycles slowed down${minutes ? ` (next in ${minutes})` : ''}`;
  return base;
}

/** REQUEST_BUDGET_SPENT for a cycle asked for by a person while the budget is spent, else null. */
export function budgetRefusal(usage: RequestUsage): SyncError | null {
  if (usage.state !== 'spent') return null;
  return new SyncError('REQUEST_BUDGET_SPENT', `No cycle started: the ${describeUsage(usage)}. Raise crm.dailyRequestBudget to sync sooner`, {
    details: { used: usage.used, budget: usage.budget, roomAt: usage.roomAt },
  });
}

/** The usage as the store holds it, read without a runner (status, doctor). */
export function readRequestUsage(store: SyncStore, budget: number | null, now = new Date()): Promise<RequestUsage> {
  return createRequestLedger({ store, owner: '(reader)', budget, now: () => now }).usage();
}

export function createRequestLedger(options: RequestLedgerOptions): RequestLedger {
  const { store, owner, budget, now } = options;
  /** Requests counted and not yet written, by bucket. */
  let pending = new Map<number, number>();
  let flushing: Promise<void> = Promise.resolve();
  // A timer of its own (not the scheduler's), unref'd: a pending flush never keeps the process alive.
  let scheduled: ReturnType<typeof setTimeout> | null = null;
  let lastCleanup = 0;

  // This runner's own keys only: read, add, write, one flush after the other, so no count is lost.
  const write = async (): Promise<void> => {
    if (scheduled !== null) clearTimeout(scheduled);
    scheduled = null;
    if (pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    try {
      const state: Record<string, string | null> = {};
      for (const [bucket, n] of batch) state[keyOf(bucket, owner)] = String(toCount(await store.getState(keyOf(bucket, owner))) + n);
      const nowMs = now().getTime();
      // Buckets a day older than the window are of no use to anyone: any runner drops them (a dead one's too).
      if (store.listState && nowMs - lastCleanup > 3_600_000) {
        lastCleanup = nowMs;
        for (const key of Object.keys(await store.listState(PREFIX))) {
          const bucket = parseKey(key);
          if (bucket !== null && bucket + BUDGET_BUCKET_MS < nowMs - 2 * BUDGET_WINDOW_MS) state[key] = null;
        }
      }
      await store.commit({ entity: 'requests', state });
    } catch (error) {
      // Counted again with the next flush: a store that failed once must not lose the counts.
      for (const [bucket, n] of batch) pending.set(bucket, (pending.get(bucket) ?? 0) + n);
      throw error;
    }
  };
  const flush = (): Promise<void> => {
    const run = flushing.then(write, write);
    flushing = run.catch(() => undefined);
    return run;
  };

  return {
    count(n = 1) {
      const bucket = bucketOf(now().getTime());
      pending.set(bucket, (pending.get(bucket) ?? 0) + n);
      if (scheduled === null) {
        scheduled = setTimeout(() => void flush().catch(() => undefined), FLUSH_AFTER_MS);
        scheduled.unref?.();
      }
    },
    flush,
    async usage() {
      await flush().catch(() => undefined);
      const nowMs = now().getTime();
      const buckets = new Map<number, number>();
      const add = (bucket: number, n: number) => buckets.set(bucket, (buckets.get(bucket) ?? 0) + n);
      if (store.listState) {
        for (const [key, value] of Object.entries(await store.listState(PREFIX))) {
          const bucket = parseKey(key);
          if (bucket !== null) add(bucket, toCount(value));
        }
      } else {
        for (let bucket = bucketOf(nowMs - BUDGET_WINDOW_MS); bucket <= nowMs; bucket += BUDGET_BUCKET_MS) {
          add(bucket, toCount(await store.getState(keyOf(bucket, owner))));
        }
      }
      // A flush that failed left its counts here: they were sent, so they count.
      for (const [bucket, n] of pending) add(bucket, n);
      return judgeUsage(buckets, budget, nowMs, !store.listState);
    },
  };
}
