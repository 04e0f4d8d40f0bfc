/**
 * Item 4: a cycle with nothing changed. Requests per entity come from the simulator's request log
 * (before/after); the duration stands beside bare GETs of the same delta links, which is all a
 * quiet cycle has to learn from the CRM.
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

export async function measureQuietCycle(options: { sim: SimulatorProcess; store: SyncStore; runs: number; entities?: readonly BenchEntity[] }): Promise<Figure[]> {
  const { sim, store } = options;
  const entities = options.entities ?? ENTITIES;
  const { engine } = createRunner({ url: sim.url, store, entities });
  await runCycleChecked(engine); // a runner's first cycle after start-up; the measured ones follow it
  const requests: Run[] = [];
  const durations: Run[] = [];
  let kinds = new Map<string, number>();
  for (let run = 1; run <= options.runs; run += 1) {
    await sim.control.resetLimits(); // a fresh x-ms-ratelimit window (limits are off)
    const before = await sim.control.lastSeq();
    const cycle = await runCycleChecked(engine);
    const sent = await sim.control.requestsSince(before);
    const bare = await bareDeltaGets(store, entities);
    if (cycle.records !== 0) throw new Error(`a quiet cycle pulled ${cycle.records} records`);
    requests.push({ value: sent.length / entities.length, reference: 1 });
    durations.push({ value: cycle.ms, reference: bare });
    kinds = new Map();
    for (const entry of sent) kinds.set(requestKind(entry.method, entry.url), (kinds.get(requestKind(entry.method, entry.url)) ?? 0) + 1);
    log(`  run ${run}: ${sent.length} requests, ${Math.round(cycle.ms)} ms (bare delta GETs ${Math.round(bare)} ms)`);
  }
  await engine.stop();
  const breakdown = [...kinds].map(([kind, n]) => `${n}× ${kind}`).join(', ');
  return [
    makeFigure({
      key: 'quiet-cycle.requests', item: 4, label: `Quiet cycle: requests per entity (${entities.join(', ')}; PostgreSQL store)`, unit: 'requests',
      reference: { label: 'one delta GET per entity', unit: 'requests' }, target: '1 per entity',
      runs: requests, met: ({ value }) => value <= 1,
      note: `requests of one quiet cycle: ${breakdown}`,
    }),
    makeFigure({
      key: 'quiet-cycle.duration', item: 4, label: 'Quiet cycle: duration', unit: 'ms',
      reference: { label: 'bare GETs of the same delta links', unit: 'ms' },
      runs: durations,
    }),
  ];
}
