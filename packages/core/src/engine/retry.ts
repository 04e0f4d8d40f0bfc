import type { CrmRecord } from '../contracts/crm.js';
import type { EngineContext, EntityPlan } from './context.js';
import { commitWithRetry } from './context.js';
import { buildPageBatch } from './pull.js';

/** Pull quarantine entries younger than this are retried at the start of each cycle. */
const RETRY_WINDOW_MS = 24 * 60 * 60 * 1000;
const MAX_PER_CYCLE = 1_000;

/**
 * Rows quarantined by a pull may have been damaged in transit (a bad response) rather than in the
 * CRM. They are re-read (when the adapter can read rows by id): right after the pull that
 * quarantined them, a few times, so the cycle still ends with every row; and at the start of later
 * cycles for a day. Rows that now read fine are applied and their entries closed; a row still bad
 * keeps its entry. Older entries wait for the row to change in the CRM. Returns rows applied.
 */
export async function retryQuarantined(ctx: EngineContext, ep: EntityPlan, signal?: AbortSignal, attempts = 1): Promise<number> {
  let applied = 0;
  for (let attempt = 0; attempt < attempts && !signal?.aborted; attempt += 1) {
    const { applied: now, remaining } = await retryOnce(ctx, ep, signal);
    applied += now;
    if (remaining === 0) break;
  }
  return applied;
}

async function retryOnce(ctx: EngineContext, ep: EntityPlan, signal?: AbortSignal): Promise<{ applied: number; remaining: number }> {
  const read = ctx.adapter.readRecords?.bind(ctx.adapter);
  if (!read) return { applied: 0, remaining: 0 };
  const since = ctx.now().getTime() - RETRY_WINDOW_MS;
  const ids = new Set<string>();
  for (let after: string | number | undefined; ids.size < MAX_PER_CYCLE; ) {
    const page = await ctx.store.listQuarantine({ entity: ep.entity.name, limit: 500, ...(after !== undefined ? { after } : {}) });
    for (const q of page.items) {
      if (q.direction === 'pull' && q.recordId !== null && Date.parse(q.at) >= since) ids.add(q.recordId);
    }
    if (page.next === null) break;
    after = page.next;
  }
  if (ids.size === 0) return { applied: 0, remaining: 0 };
  const result = await read(ep.entity, { ids: [...ids].slice(0, MAX_PER_CYCLE), fields: ep.pullFields, ...(signal ? { signal } : {}) });
  const remaining = result.rejected.length;
  return { applied: await applyRows(ctx, ep, result.rows), remaining };
}

/**
 * Applies rows re-read from the CRM as a pull would (merge, echoes, fan-outs) without moving the
 * checkpoint; the open pull entries of the rows that apply are resolved. Returns records applied.
 */
export async function applyRows(ctx: EngineContext, ep: EntityPlan, rows: CrmRecord[]): Promise<number> {
  if (rows.length === 0) return 0;
  const checkpoint = await ctx.store.getCheckpoint(ep.entity.name);
  let applied = 0;
  await commitWithRetry(ctx, async () => {
    // Still-bad rows keep their open entry: no new one is added for them.
    const built = await buildPageBatch(ctx, ep, { upserts: rows, deletes: [], rejected: [], checkpoint: checkpoint ?? '', snapshot: null });
    applied = built.counts.applied;
    const { checkpoint: _unchanged, ...batch } = built.batch;
    return batch;
  });
  return applied;
}
