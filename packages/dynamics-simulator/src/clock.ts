/**
 * The simulator's notion of time. Sliding windows, delta token ages and `modifiedon` all read it,
 * so a test can run a 5-minute window in seconds (scale) or step time by hand (manual).
 */
export interface Clock {
  /** Simulated time, ms since the epoch. */
  now(): number;
  /** Moves simulated time forward. */
  advance(ms: number): void;
  /** Simulated ms per real ms (1 for real time). Retry-After is divided by it so clients wait real seconds. */
  readonly scale: number;
  /** True when time moves only through `advance`. */
  readonly manual: boolean;
}

export interface ClockOptions {
  /** Simulated time at creation. Default: the real current time. */
  start?: Date | string | number;
  /** Simulated ms per real ms. Default 1. Ignored when manual. */
  scale?: number;
  /** Time stands still unless `advance` is called. */
  manual?: boolean;
}

export function createClock(options: ClockOptions = {}): Clock {
  const start = options.start === undefined ? Date.now() : new Date(options.start).getTime();
  if (Number.isNaN(start)) throw new Error(`Invalid clock start: ${String(options.start)}`);
  const manual = options.manual ?? false;
  const scale = manual ? 1 : (options.scale ?? 1);
  if (!(scale > 0)) throw new Error(`Clock scale must be positive, got ${scale}`);
  const realStart = performance.now();
  let offset = 0;
  return {
    now: () => (manual ? start + offset : start + offset + (performance.now() - realStart) * scale),
    advance: (ms) => {
      offset += ms;
    },
    scale,
    manual,
  };
}
