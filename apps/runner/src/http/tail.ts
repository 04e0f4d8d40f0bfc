import type { Page } from '@crm-sync/core';

type Lister<T extends { seq: number }> = (options: { after?: number; limit: number }) => Promise<Page<T>>;

/**
 * The newest entries of a log the store only pages forwards (by increasing `seq`). Finds the last
 * seq by galloping then bisecting (a few dozen one-row reads whatever the log's size), then reads
 * the window before it. Newest first.
 */
export async function latestEntries<T extends { seq: number }>(list: Lister<T>, limit: number): Promise<T[]> {
  const firstPage = await list({ limit: 1 });
  const first = firstPage.items[0];
  if (!first) return [];
  const after = async (seq: number) => (await list({ after: seq, limit: 1 })).items[0]?.seq;
  // Invariant: `lo` exists; nothing lies after `hi`.
  let lo = first.seq;
  let step = 1_024;
  let hi: number;
  for (;;) {
    const found = await after(lo + step);
    if (found === undefined) {
      hi = lo + step;
      break;
    }
    lo = found;
    step *= 2;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const found = await after(mid);
    if (found === undefined) hi = mid;
    else lo = found;
  }
  const last = (await after(lo)) === undefined ? lo : hi;
  // The window may hold fewer entries than asked (filtered logs interleave): widen it a few times.
  let window = limit;
  let items: T[] = [];
  for (let round = 0; round < 6; round += 1) {
    const from = Math.max(0, last - window);
    items = (await list({ after: from, limit: Math.min(window + 1, 10_000) })).items;
    if (items.length >= limit || from === 0) break;
    window *= 4;
  }
  return items.slice(-limit).reverse();
}
