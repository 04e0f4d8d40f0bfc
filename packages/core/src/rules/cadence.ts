/**
 * R3: cycles never overlap: a cycle (or a Quick Sync) starts once the one before it has ended,
 * whether that one succeeded or failed. Returns `work`'s result, run after `previous`.
 */
export function afterPrevious<T>(previous: Promise<unknown>, work: () => Promise<T>): Promise<T> {
  return previous.then(work, work);
}

/** R3: after a cycle ends the scheduler waits the configured interval (default 5 minutes), then runs again. */
export function delayBeforeNextCycle(config: { intervalMs: number }): number {
  return config.intervalMs;
}
