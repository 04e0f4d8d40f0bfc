import { randomUUID } from 'node:crypto';
import type { ChangePage, SyncError } from '@crm-sync/core';
import { abortError } from './abort.js';
import type { Checkpoint, RangesCheckpoint } from './checkpoint.js';
import { pageOf } from './convert.js';
import type { Converted, Plan } from './convert.js';
import type { HttpClient } from './http.js';
import type { ResolvedOptions } from './options.js';
import type { createPageReader } from './pages.js';
import { collectionUrl, prefer } from './odata/query.js';
import { createRangeReader, keyOf } from './range-read.js';
import type { KeyRange } from './range-read.js';

/**
 * Ranges read at once per web server when `initialLoad.maxRanges` is unset, below the hint. A request
 * is charged about the time the service runs it, so the documented execution budget (1,200 s per
 * 300 s window, per web server) keeps 4 requests busy per server; but a range request also spends
 * time it is not charged (its answer crossing the network and being parsed): with 4 in flight per
 * server, 2.75 of the 4 ms per ms were used (bench item 7, two servers). 5 reached 0.79 of two
 * servers' ceiling, 6 0.92, 7 and 8 0.94 (8 gains nothing more). More than 5 let 1% of requests run
 * into 429s on one server until the pacer held requests in flight at the recent peak charge rather
 * than the average (0-1 of about 200 since). The servers are those heard from (`http.servers()`).
 */
export const RANGES_PER_SERVER = 7;

/**
 * A pending range is cut in two while the pool has more free slots than ranges to read (the start of
 * a load, before the spine is far enough ahead, and its end), down to this many keys per part: each
 * part is a request, and smaller parts spend the request count for little.
 */
export const MIN_PART_KEYS = 1000;

/**
 * The parallel initial load of a change-tracked table.
 *
 * The spine is the tracked read (`Prefer: odata.track-changes`) selecting only the primary key: its
 * pages are cheap, and its last one carries the deltaLink, whose token dates from the spine's first
 * request, before any range was read. Each spine page is a key range (first key .. last key, in the
 * service's own order) that a pool of workers reads in full with plain queries, in parallel. Every
 * key the spine listed is yielded (or was deleted since, which the next delta reports); rows that
 * change meanwhile come again in that delta.
 *
 * A checkpoint claims only ranges yielded in full: `from` is the spine link of the earliest range
 * that is not, and a resume restarts the spine there (ranges after it are read again).
 */
export interface RangeLoadContext {
  http: HttpClient;
  reader: ReturnType<typeof createPageReader>;
  options: Pick<ResolvedOptions, 'pageSize' | 'initialLoad'>;
  /** The checkpoint once the snapshot is complete (the deltaLink, or the watermark mode without one). */
  finish: (plan: Plan, deltaLink: string | null) => Checkpoint;
  /** A stored or returned link was refused: report it (a new snapshot follows). */
  reset: (plan: Plan, error: SyncError) => void;
}

/** What a worker hands to the generator: every page of one range. */
interface Done {
  range: KeyRange;
  pages: Converted[];
}

/** Wakes every waiter on the next change (single-threaded, so no wake-up is lost between check and wait). */
function createNotifier() {
  let waiters: Array<() => void> = [];
  return {
    wait: () => new Promise<void>((resolve) => waiters.push(resolve)),
    notify: () => {
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake();
    },
  };
}

export function createRangeLoader(context: RangeLoadContext) {
  const { http, reader, options } = context;
  const rangeReader = createRangeReader({ http, reader, pageSize: options.pageSize });
  // Sized from the adapter's concurrency as the service's hint moves it, leaving the spine a slot when there are several.
  const maxRanges = (): number => {
    const slots = http.concurrency();
    return Math.max(1, Math.min(options.initialLoad.maxRanges ?? RANGES_PER_SERVER * http.servers(), slots > 1 ? slots - 1 : 1));
  };

  async function* load(plan: Plan, resume: RangesCheckpoint | null, restarts: number): AsyncGenerator<ChangePage> {
    const snapshot = resume?.snapshot ?? randomUUID();
    const size = resume?.size ?? options.initialLoad.rangeSize;
    const pk = plan.meta.primaryKey;
    const controller = new AbortController();
    const signal = plan.signal ? AbortSignal.any([plan.signal, controller.signal]) : controller.signal;
    const changed = createNotifier();

    /** Ranges read from the spine and not yet yielded in full, by seq (a Map keeps seq order). */
    const open = new Map<number, KeyRange>();
    /** Parts not yet yielded in full, per range cut in parts (a range absent here is one part). */
    const parts = new Map<number, number>();
    /** One part of a range was yielded in full; the range is once its last part is. */
    const partDone = (seq: number) => {
      const left = (parts.get(seq) ?? 1) - 1;
      if (left > 0) parts.set(seq, left);
      else {
        parts.delete(seq);
        open.delete(seq);
      }
    };
    const pending: KeyRange[] = [];
    const done: Done[] = [];
    /** Link of the next spine page (null: the table's start). */
    let spineAt: string | null = resume?.from ?? null;
    // Set from the spine and the workers (casts keep TypeScript from narrowing them to null here).
    let spineEnd = null as { deltaLink: string | null } | null;
    let failure = null as { error: unknown } | null;
    let rejected = null as SyncError | null;
    let active = 0;
    let limit = maxRanges();
    let throttles = http.throttleCount();

    const fail = (error: unknown) => {
      if (signal.aborted && !plan.signal?.aborted) return; // our own abort after the end
      failure ??= { error };
      changed.notify();
    };

    /**
     * Cuts the largest pending ranges in two (keys known from the spine, so the parts are exact) while
     * free slots outnumber them; once the spine has ended, while they are fewer than two per slot of
     * the pool, so that the load ends with short parts, not with a few whole ranges still in flight.
     */
    const cut = () => {
      const pool = Math.min(limit, maxRanges());
      const wanted = spineEnd ? 2 * pool : pool - active;
      while (pending.length > 0 && pending.length < wanted) {
        let largest = 0;
        for (let i = 1; i < pending.length; i += 1) if (pending[i]!.ids.length > pending[largest]!.ids.length) largest = i;
        const range = pending[largest]!;
        if (range.ids.length < 2 * MIN_PART_KEYS) return;
        const half = Math.floor(range.ids.length / 2);
        // Rows created between the halves' keys after the spine started come in the next delta, as do all rows created since.
        const first: KeyRange = { ...range, ids: range.ids.slice(0, half), hi: range.ids[half - 1]! };
        const second: KeyRange = { ...range, ids: range.ids.slice(half), lo: range.ids[half]! };
        pending.splice(largest, 1, first, second);
        parts.set(range.seq, (parts.get(range.seq) ?? 1) + 1);
      }
    };

    // Workers: at most `limit` ranges in flight, and no more than `maxRanges` read but not yet yielded.
    const pump = () => {
      cut();
      while (!signal.aborted && active < Math.min(limit, maxRanges()) && pending.length > 0 && done.length < maxRanges()) {
        const range = pending.shift()!;
        active += 1;
        rangeReader
          .read(plan, range, signal)
          .then((pages) => {
            done.push({ range, pages });
            // AIMD: half as many after a 429, one more after a clean read (the pacer keeps the pool within the budget before that).
            const now = http.throttleCount();
            limit = now > throttles ? Math.max(1, Math.floor(limit / 2)) : Math.min(maxRanges(), limit + 1);
            throttles = now;
          }, fail)
          .finally(() => {
            active -= 1;
            pump();
            changed.notify();
          });
      }
    };

    const spine = async () => {
      const first = resume?.from ?? null;
      // GET <set>?$select=<key> with Prefer: odata.track-changes, odata.maxpagesize=<rangeSize> (then each nextLink).
      const url = first ?? collectionUrl(http.root, plan.meta.entitySet, { select: [pk] });
      const headers = { Prefer: prefer({ trackChanges: true, maxPageSize: size }) };
      let src = first;
      let seq = 0;
      for await (const page of reader.pages({ url, stored: first !== null, headers, signal, what: `GET ${plan.meta.entitySet} (keys)`, primaryKey: plan.meta.primaryKey })) {
        if (page.kind === 'link-rejected') {
          rejected = page.error;
          changed.notify();
          return;
        }
        // A row without a readable key cannot be ranged; read in full it could only be quarantined without an id.
        const ids = page.rows.map((row) => keyOf(row, pk)).filter((id): id is string => id !== null);
        if (ids.length > 0) {
          // Open bounds at the table's ends: nothing is left out there, and one range means no filter.
          const range: KeyRange = { seq, src, ids, lo: seq === 0 && first === null ? null : ids[0]!, hi: page.nextLink ? ids.at(-1)! : null };
          open.set(seq, range);
          pending.push(range);
          seq += 1;
        }
        spineAt = page.nextLink;
        src = page.nextLink;
        if (!page.nextLink) spineEnd = { deltaLink: page.deltaLink };
        pump();
        changed.notify();
        // Stay a few ranges ahead of the workers, no more (their keys are held in memory).
        while (page.nextLink && pending.length >= maxRanges() && !signal.aborted) await changed.wait();
      }
    };

    const checkpoint = (): Checkpoint => {
      if (spineEnd && open.size === 0) return context.finish(plan, spineEnd.deltaLink);
      const earliest = open.values().next();
      const from = earliest.done ? spineAt : earliest.value.src;
      return { v: 1, entity: plan.entity.name, mode: 'tracking-ranges', snapshot, from, size, fields: plan.fields };
    };

    const spineTask = spine().then(() => changed.notify(), fail);
    try {
      let completed = false;
      while (!completed) {
        if (plan.signal?.aborted) throw abortError(plan.signal.reason);
        if (failure) throw failure.error;
        if (rejected) break;
        const next = done.shift();
        if (!next) {
          if (spineEnd && open.size === 0) break;
          await changed.wait();
          continue;
        }
        if (next.pages.length === 0) partDone(next.range.seq);
        for (const [index, rows] of next.pages.entries()) {
          if (index === next.pages.length - 1) partDone(next.range.seq);
          completed = spineEnd !== null && open.size === 0 && done.length === 0;
          yield pageOf(rows, checkpoint(), { id: snapshot, complete: completed });
          if (plan.signal?.aborted && !completed) throw abortError(plan.signal.reason);
        }
        pump();
        changed.notify();
      }
      if (rejected) {
        controller.abort();
        if (restarts > 0) throw rejected;
        context.reset(plan, rejected);
        yield* load(plan, null, restarts + 1);
        return;
      }
      // The last range had nothing left to yield, or the table is empty: the completing page is empty.
      if (!completed) yield pageOf({ upserts: [], deletes: [], rejected: [] }, checkpoint(), { id: snapshot, complete: true });
    } finally {
      controller.abort();
      changed.notify();
      await spineTask.catch(() => {});
    }
  }

  return { load };
}
