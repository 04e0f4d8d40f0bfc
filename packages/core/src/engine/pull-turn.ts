import type { ChangePage } from '../contracts/crm.js';
import { commitWithRetry, stateKeys } from './context.js';
import type { EntityRun, RunDeps } from './entity-run.js';
import type { BuiltPage } from './first-load.js';
import { FirstLoadPipeline } from './first-load.js';
import { buildPageBatch } from './pull.js';
import { reconcileDeletes } from './reconcile.js';
import { retryQuarantined } from './retry.js';
import { inSpan, spanNames } from '../tracing.js';

/** Commits one page (built again with lookups after a conflict) and adds it to the summary, in the page's span. */
function commitPage(deps: RunDeps, run: EntityRun, page: ChangePage, prebuilt?: BuiltPage, after?: Promise<unknown>): Promise<void> {
  const attributes = {
    'crm_sync.entity': run.entity.name, 'crm_sync.upserts': page.upserts.length, 'crm_sync.deletes': page.deletes.length,
    'crm_sync.rejected': page.rejected.length, 'crm_sync.full_read': page.snapshot !== null,
  };
  return inSpan(spanNames.page, attributes, () => commitPageNow(deps, run, page, prebuilt, after));
}

async function commitPageNow(deps: RunDeps, run: EntityRun, page: ChangePage, prebuilt?: BuiltPage, after?: Promise<unknown>): Promise<void> {
  const { ctx } = deps;
  const pull = run.pulling();
  let counts: BuiltPage['counts'] | undefined;
  let created = 0;
  await commitWithRetry(
    ctx,
    async (attempt) => {
      if (attempt > 1) pull.assumeNew = false;
      const built = attempt === 1 && prebuilt ? prebuilt : await buildPageBatch(ctx, pull.plan, page, { assumeNew: pull.assumeNew && page.snapshot !== null });
      counts = built.counts;
      created = 0;
      for (const r of built.batch.records ?? []) if (r.expectedRevision === 0) created += 1;
      return built.batch;
    },
    after ? { commit: { after } } : {},
  );
  // Every create of a snapshot's page is a distinct new record seen by it (an existing id conflicts).
  if (page.snapshot !== null) {
    const id = page.snapshot.id;
    run.inserted = { snapshot: id, count: (run.inserted?.snapshot === id ? run.inserted.count : 0) + created };
  }
  const s = run.summary;
  s.pages += 1;
  s.pulled += page.upserts.length + page.deletes.length + page.rejected.length;
  if (counts) {
    s.applied += counts.applied;
    s.echoes += counts.echoes;
    s.filtered += counts.filtered;
    s.deleted += counts.deleted;
    s.collisions += counts.collisions;
    s.quarantined += counts.quarantined;
  }
  const seconds = Math.max((Date.now() - run.started) / 1000, 0.001);
  ctx.emit({
    type: 'page-applied', entity: run.entity.name, pages: s.pages, pulled: s.pulled, applied: s.applied,
    recordsPerSecond: Math.round(s.pulled / seconds),
  });
}

/**
 * Pulls up to `budget` pages of a run in its pull; returns when the entity is drained (then its
 * deletes are reconciled, R12), the budget is spent, or on stop (the run is then interrupted).
 */
export async function pullTurn(deps: RunDeps, run: EntityRun, budget: number, signal?: AbortSignal): Promise<void> {
  const { ctx } = deps;
  const pull = run.pulling();
  const ep = pull.plan;
  // A first full read into an empty entity commits a page while it builds the next (first-load.ts).
  // Every other page waits for the commit before it.
  const pipeline = new FirstLoadPipeline(ctx, ep, (page, built, after) => commitPage(deps, run, page, built, after));
  try {
    for (let n = 0; n < budget; n += 1) {
      if (signal?.aborted) {
        await pipeline.settle();
        run.summary.status = 'interrupted';
        run.end();
        return;
      }
      const next = await (pull.ahead ?? pull.pages.next());
      pull.ahead = undefined;
      if (next.done) {
        await pipeline.settle();
        run.state = { phase: 'pulled', plan: ep };
        // Read to its end: the change token is as new as this pull (its age warns before it expires).
        if (run.pullOpenedAt) await ctx.store.commit({ entity: run.entity.name, state: { [stateKeys.lastRead(run.entity.name)]: run.pullOpenedAt.toISOString() } });
        const snapshot = await ctx.store.getState(stateKeys.reconcile(run.entity.name));
        const inserted = run.inserted?.snapshot === snapshot ? run.inserted.count : 0;
        if (snapshot !== null) run.summary.deleted += await reconcileDeletes(ctx, run.entity.name, snapshot, inserted);
        // After the reconciliation: a quarantined row re-read now was in the full read, but the
        // record it creates carries no snapshot and would read as deleted in the CRM.
        if (run.summary.quarantined > 0) run.summary.applied += await retryQuarantined(ctx, ep, signal, 5);
        return;
      }
      const page = next.value;
      pull.ahead = pull.pages.next();
      // Awaited at the next page, or dropped with the run (its pull is then ended).
      pull.ahead.catch(() => {});
      if (!pull.assumeNew || page.snapshot === null) {
        await pipeline.settle();
        await commitPage(deps, run, page);
        continue;
      }
      await pipeline.add(page);
    }
  } catch (error) {
    // The first error is the entity's (a commit still in flight may fail with it or after it).
    await pipeline.settle().catch(() => {});
    throw error;
  } finally {
    await pipeline.settle();
  }
}
