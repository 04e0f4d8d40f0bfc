import type { ChangePage } from '../contracts/crm.js';
import type { EngineContext, EntityPlan } from './context.js';
import { buildPageBatch } from './pull.js';

export type BuiltPage = Awaited<ReturnType<typeof buildPageBatch>>;

/** Commits a page built beforehand, shown by the store only after `after` (see CommitOptions.after). */
export type CommitBuiltPage = (page: ChangePage, built: BuiltPage, after: Promise<unknown> | undefined) => Promise<void>;

/**
 * The pipelined first full read into an empty entity: its pages are built without store reads, so a
 * page is built and its records written while the page before it commits (the store makes it visible
 * only after that one: CommitOptions.after). At most two commits are in flight.
 */
export class FirstLoadPipeline {
  private inFlight: { done: Promise<void>; ids: Set<string> } | undefined;

  constructor(
    private readonly ctx: EngineContext,
    private readonly plan: EntityPlan,
    private readonly commit: CommitBuiltPage,
  ) {}

  /** Waits for the commit in flight, if any (and throws its error). */
  async settle(): Promise<void> {
    const previous = this.inFlight;
    this.inFlight = undefined;
    await previous?.done;
  }

  /** Builds and commits a page of the read (one with a snapshot); returns once the commit before it has landed. */
  async add(page: ChangePage): Promise<void> {
    // The page that completes the read decides from what the pages before it stored (a row
    // without a key in any of them means no deletes are flagged): it waits for their commits.
    if (page.snapshot?.complete) await this.settle();
    const built = await buildPageBatch(this.ctx, this.plan, page, { assumeNew: true });
    const records = built.batch.records ?? [];
    const ids = new Set<string>();
    for (const r of records) ids.add(r.id);
    // Two pages may share a record only when the CRM changed it mid-read: those commit in turn.
    const shared = this.inFlight?.ids;
    const after = this.inFlight && !records.some((r) => shared?.has(r.id)) ? this.inFlight.done : undefined;
    if (!after) await this.settle();
    const done = this.commit(page, built, after);
    done.catch(() => {}); // awaited, and its error thrown, by settle() or as the next page's `after`
    // At most two commits in flight: the one before this is awaited here. If it failed, this
    // one fails with it and is awaited by settle() all the same: nothing runs on after the turn.
    this.inFlight = { done, ids };
    await after;
  }
}
