import v8 from 'node:v8';

/**
 * How far V8 lets the heap grow past what survived the last full collection, in percent.
 *
 * A sync page makes about 25 MB of short-lived data (the page's text, its rows, the records, the
 * store's batch), and most of it lives across an await, so it is promoted to the old generation.
 * With V8's own factor (up to 4× when collections are fast) that garbage piles up to about 150 MB
 * before a full collection: a runner syncing into PostgreSQL peaked at 320-330 MB of RSS with about
 * 40 MB live. At 20% it peaks near 200-215 MB at the same speed (see BENCHMARKS.md, item 3).
 */
export const HEAP_GROWING_PERCENT = 20;

const FLAG = /heap[-_]growing[-_]percent/;

/**
 * Applies {@link HEAP_GROWING_PERCENT} to this process unless its node options already set the
 * factor (`node --heap-growing-percent=N` or `NODE_OPTIONS`), which then wins. V8 reads the factor
 * at every collection, so setting it at start-up takes effect. Returns whether it was applied.
 */
export function tightenHeap(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  if (FLAG.test(nodeOptions) || execArgv.some((arg) => FLAG.test(arg))) return false;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
