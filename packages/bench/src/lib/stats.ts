/** Median of several runs: one slow run on a shared machine does not move it. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => !Number.isNaN(v));
  if (finite.length === 0) return Number.NaN;
  const sorted = [...finite].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Records per second from a count and milliseconds. */
export const perSecond = (count: number, ms: number): number => (ms > 0 ? (count / ms) * 1000 : Number.NaN);

