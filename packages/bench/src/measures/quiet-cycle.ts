/**
 * Item 4: a cycle with nothing changed. Requests come from the simulator's request log
 * (before/after), in two figures: the delta reads per entity (one each is all a quiet cycle has to
 * learn of the rows) and the schema-drift check per cycle (one `RetrieveMetadataChanges` for every
 * entity, where re-reading definitions costs one request per entity). The duration stands beside
 * bare GETs of the same delta links.
 */
import type { SyncStore } from '@crm-sync/core';
import type { Figure, Run } from '../lib/figure.js';
import { makeFigure } from '../lib/figure.js';
import { log } from '../lib/log.js';
import type { BenchEntity } from '../lib/wiring.js';
import { createRunner, ENTITIES, runCycleChecked } from '../lib/wiring.js';
import type { SimulatorProcess } from '../simulator/process.js';

const PREFER = 'odata.track-changes, odata.maxpagesize=5000, odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"';

/** The delta link a checkpoint holds, if it is one (the adapter's checkpoints are versioned JSON). */
function deltaLink(checkpoint: string | null): string | null {
  try {
    const parsed = JSON.parse(checkpoint ?? 'null') as { mode?: string; link?: string } | null;
    return parsed?.mode === 'delta' && typeof parsed.link === 'string' ? parsed.link : null;
  } catch {
    return null;
  }
}

async function bareDeltaGets(store: SyncStore, entities: readonly BenchEntity[]): Promise<number> {
  const links = await Promise.all(entities.map(async (e) => deltaLink(await store.getCheckpoint(e))));
  if (links.some((l) => l === null)) return Number.NaN;
  const started = performance.now();
  for (const link of links as string[]) {
    const response = await fetch(link, { headers: { Authorization: 'Bearer sim-token-sync', Accept: 'application/json', Prefer: PREFER } });
    await response.text();
  }
  return performance.now() - started;
}

/** `GET contacts`, `GET EntityDefinitions(...)`: what a request was, without ids or query. */
function requestKind(method: string, url: string): string {
  const path = new URL(url).pathname.replace(/^\/api\/data\/v9\.2\//, '');
  return `${method} ${path.replace(/\([^)]*\)/g, '(…)')}`;
}

/** A metadata request (the drift check), as opposed to a read of rows. */
const isMetadata = (url: string): boolean => /\/(RetrieveMetadataChanges|EntityDefinitions)\b/.test(new URL(url).pathname);

/** A quiet cycle's requests split: row reads per entity, and drift-check (metadata) requests for the whole cycle. */
export function splitQuietRequests(sent: readonly { url: string }[], entities: number): { readsPerEntity: number; driftChecks: number } {
  const driftChecks = sent.filter((r) => isMetadata(r.url)).length;
  return { readsPerEntity: (sent.length - driftChecks) / entities, driftChecks };
}

/** Item 4's two request figures from runs of `splitQuietRequests` (reference: one read per entity; one drift check per entity, the old way). */
export function quietRequestFigures(
  keyPrefix: string, labelPrefix: string, entities: readonly string[], runs: { readsPerEntity: number; driftChecks: number }[], note?: string,
): Figure[] {
  return [
    makeFigure({
      key: `${keyPrefix}.requests`, item: 4, label: `${labelPrefix}: row reads per entity (${entities.join(', ')})`, unit: 'requests',
      reference: { label: 'one delta GET per entity', unit: 'requests' }, target: '1 per entity',
      runs: runs.map((r) => ({ value: r.readsPerEntity, reference: 1 })), met: ({ value }) => value <= 1,
      ...(note ? { note } : {}),
    }),
    makeFigure({
      key: `${keyPrefix}.drift-check`, item: 4, label: `${labelPrefix}: schema-drift check, requests per cycle (all ${entities.length} entities)`, unit: 'requests',
      reference: { label: 'one definition read per entity', unit: 'requests' }, target: '1 per cycle',
      runs: runs.map((r) => ({ value: r.driftChecks, reference: entities.length })), met: ({ value }) => value <= 1,
    }),
  ];
}

export async function measureQuietCycle(options: { sim: SimulatorProcess; store: SyncStore; runs: number; entities?: readonly BenchEntity[] }): Promise<Figure[]> {
  const { sim, store } = options;
  const entities = options.entities ?? ENTITIES;
  const { engine } = createRunner({ url: sim.url, store, entities });
  await runCycleChecked(engine); // a runner's first cycle after start-up; the measured ones follow it
  const requests: { readsPerEntity: number; driftChecks: number }[] = [];
  const durations: Run[] = [];
  let kinds = new Map<string, number>();
  for (let run = 1; run <= options.runs; run += 1) {
    await sim.control.resetLimits(); // a fresh x-ms-ratelimit window (limits are off)
    const before = await sim.control.lastSeq();
    const cycle = await runCycleChecked(engine);
    const sent = await sim.control.requestsSince(before);
    const bare = await bareDeltaGets(store, entities);
    if (cycle.records !== 0) throw new Error(`a quiet cycle pulled ${cycle.records} records`);
    requests.push(splitQuietRequests(sent, entities.length));
    durations.push({ value: cycle.ms, reference: bare });
    kinds = new Map();
    for (const entry of sent) kinds.set(requestKind(entry.method, entry.url), (kinds.get(requestKind(entry.method, entry.url)) ?? 0) + 1);
    log(`  run ${run}: ${sent.length} requests, ${Math.round(cycle.ms)} ms (bare delta GETs ${Math.round(bare)} ms)`);
  }
  await engine.stop();
  const breakdown = [...kinds].map(([kind, n]) => `${n}× ${kind}`).join(', ');
  return [
    ...quietRequestFigures('quiet-cycle', 'Quiet cycle (PostgreSQL store)', entities, requests, `requests of one quiet cycle: ${breakdown}`),
    makeFigure({
      key: 'quiet-cycle.duration', item: 4, label: 'Quiet cycle: duration', unit: 'ms',
      reference: { label: 'bare GETs of the same delta links', unit: 'ms' },
      runs: durations,
    }),
  ];
}
