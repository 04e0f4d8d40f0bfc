import { afterPrevious, delayBeforeNextCycle } from '../rules/cadence.js';

/**
 * What the scheduler waits with between cycles (R3): the global `setTimeout` / `clearTimeout` by
 * default. Tests inject their own, to move time on without waiting for it.
 */
export interface EngineTimer {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The global timers. */
export const realTimer: EngineTimer = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface Scheduler {
  /** Runs `work` once the work queued before it has ended, whether it succeeded or failed (R3: no overlap). */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  /** The stop signal of the running schedule; undefined when not started. */
  readonly signal: AbortSignal | undefined;
  /** R3: cycle, wait the interval, cycle again, until `stop()`. Does nothing when already started. */
  start(): void;
  /** Aborts the schedule (and the cycle in progress, through the signal) and waits for the queued work to end. */
  stop(): Promise<void>;
}

export interface SchedulerOptions {
  config: { intervalMs: number };
  timer: EngineTimer;
  /** One scheduled cycle; its errors are the cycle's (the schedule goes on). */
  cycle: (signal: AbortSignal) => Promise<unknown>;
  /**
   * Asked before each scheduled cycle: 0 runs it, more waits that long and asks again (the daily
   * request budget is spent). Default 0; a failure counts as 0.
   */
  hold?: (interval: number) => Promise<number>;
  /** The wait after a cycle, given R3's interval (default: that interval; a failure counts as it). */
  wait?: (interval: number) => Promise<number>;
}

export function createScheduler(options: SchedulerOptions): Scheduler {
  const { config, timer } = options;
  // Cycles (and Quick Syncs) run one at a time, so no entity is ever synced twice at once (R3).
  let queue: Promise<unknown> = Promise.resolve();
  let stopController: AbortController | null = null;
  let loop: Promise<void> | null = null;

  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = afterPrevious(queue, work);
    queue = run.catch(() => undefined);
    return run;
  };

  /** The wait between cycles: `ms`, or until the stop signal. */
  const pause = (signal: AbortSignal, ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const wake = () => {
        timer.clearTimeout(handle);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      // A timer calls back later, never from setTimeout itself, so `handle` is set by then.
      const handle = timer.setTimeout(wake, ms);
      signal.addEventListener('abort', wake, { once: true });
    });

  return {
    exclusive,
    get signal() {
      return stopController?.signal;
    },
    start() {
      if (loop) return;
      stopController = new AbortController();
      const signal = stopController.signal;
      loop = (async () => {
        const interval = delayBeforeNextCycle(config);
        while (!signal.aborted) {
          const hold = (await options.hold?.(interval).catch(() => 0)) ?? 0;
          if (hold > 0) {
            await pause(signal, hold);
            continue;
          }
          await exclusive(() => options.cycle(signal)).catch(() => undefined);
          if (signal.aborted) break;
          await pause(signal, (await options.wait?.(interval).catch(() => interval)) ?? interval);
        }
      })();
    },
    async stop() {
      stopController?.abort();
      await loop;
      await queue;
      loop = null;
      stopController = null;
    },
  };
}
