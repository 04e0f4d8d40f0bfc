import type { EngineTimer } from '@crm-sync/core';

/** An `EngineTimer` whose time moves only when a test says so: the scheduler is driven without real waits. */
export interface ManualTimer extends EngineTimer {
  /** The delays of the timers waiting to fire, in the order they were set. */
  readonly pending: number[];
  /** Resolves with the delay of a timer once one is waiting (at once if one is). */
  next(): Promise<number>;
  /** Moves the timer's time on by `ms`, firing every timer due by then, in order. */
  advance(ms: number): void;
}

export function manualTimer(): ManualTimer {
  let now = 0;
  let ids = 0;
  const timers = new Map<number, { due: number; ms: number; callback: () => void }>();
  let waiters: Array<(ms: number) => void> = [];
  return {
    setTimeout(callback, ms) {
      const id = (ids += 1);
      timers.set(id, { due: now + ms, ms, callback });
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake(ms);
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    get pending() {
      return [...timers.values()].map((t) => t.ms);
    },
    next() {
      const waiting = [...timers.values()][0];
      return waiting ? Promise.resolve(waiting.ms) : new Promise((resolve) => waiters.push(resolve));
    },
    advance(ms) {
      now += ms;
      const due = [...timers.entries()].filter(([, t]) => t.due <= now).sort(([, a], [, b]) => a.due - b.due);
      for (const [id, t] of due) {
        timers.delete(id);
        t.callback();
      }
    },
  };
}

/** Lets the work queued by a fired timer run as far as it goes without I/O (one turn of the event loop). */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
