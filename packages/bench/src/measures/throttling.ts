/**
 * Item 7: an initial load against the simulator's service protection limits, as a fraction of
 * the most those limits allow, and the share of requests answered 429. The same loads give the
 * "limits on" side of item 8 (the adapter alone against dynamics-web-api).
 *
 * Limits: the documented rates (6,000 requests and 1,200,000 ms of execution per 300 s, 52 at
 * once) and the page cost (10 ms + 0.4 ms per whole row, a key alone 0.04 ms), with the 300 s window
 * scaled down so the window fills within seconds. The ceiling follows from them and from what a page
 * of whole rows was charged: 10 + 0.4 × 5,000 = 2,010 ms, so execution time allows
 * 1,200,000 / 300,000 / 2,010 × 5,000 ≈ 9,950 rows per (simulated) second; the request count would
 * allow 100,000.
 * The window is loaded before the measured runs (a warm-up pull), so the burst an empty window
 * admits does not count: the figure is the sustained rate.
 */
import { createEntityRegistry } from '@crm-sync/core';
import type { CrmAdapter } from '@crm-sync/core';
import type { RequestLogEntry } from '@crm-sync/dynamics-simulator';
import type { LimitSettings } from '@crm-sync/dynamics-simulator';
import { createMemoryStore } from '@crm-sync/memory-store';
import { LOADS_PER_RUN } from '../config.js';
import type { Figure, Run } from '../lib/figure.js';
import { makeFigure } from '../lib/figure.js';
import { log } from '../lib/log.js';
import { perSecond } from '../lib/stats.js';
import { createRunner, FIELDS, FILTER_FIELD, runCycleChecked, simulatorAdapter, windowOptions } from '../lib/wiring.js';
import type { SimulatorProcess } from '../simulator/process.js';
import { adapterPull, webApiPull } from './pull.js';

const PAGE_SIZE = 5000;

/**
 * Rows per real second the limits allow for full pages of whole rows, each charged `pageMs`, whichever
 * limit binds first: per web server, times the servers (the limits apply per server, per-org ceiling).
 */
export function ceiling(limits: LimitSettings, pageMs: number, clockScale: number): number {
  const byExecution = (limits.maxExecutionMs / limits.windowMs / pageMs) * PAGE_SIZE;
  const byCount = (limits.maxRequests / limits.windowMs) * PAGE_SIZE;
  return Math.min(byExecution, byCount) * 1000 * clockScale * limits.webServers;
}

/**
 * A fetch with one cookie: the `ARRAffinity` the service last set, sent back on every request, as a
 * client with a cookie jar (a browser, .NET's default HttpClientHandler) does. The adapter never does.
 */
export function affinityFetch(): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  let cookie: string | null = null;
  return async (input, init) => {
    const headers = new Headers(init?.headers);
    if (cookie) headers.set('Cookie', cookie);
    const response = await fetch(input, { ...init, headers });
    const set = response.headers.getSetCookie().find((line) => line.startsWith('ARRAffinity='));
    if (set) cookie = set.split(';')[0]!;
    return response;
  };
}

/**
 * Fills the window: whole pulls of the contacts until they were charged a whole window's budget
 * (paced to the ceiling, that takes about a window), each read to its end so that no request is
 * left in flight, unseen by the adapter, when the measured loads start. Returns what the simulator
 * charges for a full page of whole rows (its base cost plus 5,000 times the dearest row it charged).
 */
async function warmUp(adapter: CrmAdapter, sim: SimulatorProcess, limits: LimitSettings, servers = 1): Promise<number> {
  const log: RequestLogEntry[] = [];
  let charged = 0;
  while (charged < limits.maxExecutionMs * servers) {
    const seq = await sim.control.lastSeq();
    for await (const _page of adapter.pullChanges(createEntityRegistry().get('contact'), { checkpoint: null, fields: [...FIELDS.contact, FILTER_FIELD] })) {
      // only the charge matters
    }
    const pulled = await sim.control.requestsSince(seq);
    const pulledMs = pulled.reduce((sum, entry) => sum + entry.executionMs, 0);
    if (pulledMs === 0) throw new Error('warm-up: the pull was charged nothing');
    charged += pulledMs;
    log.push(...pulled);
  }
  // Whole rows cost the most per row (a key alone a tenth); ranges may be read in parts of any size,
  // so a full page is priced from the dearest row seen: baseMs + 5,000 × its cost.
  const perRowMs = Math.max(0, ...log.filter((entry) => entry.rows >= 100).map((entry) => (entry.executionMs - limits.cost.baseMs) / entry.rows));
  if (perRowMs === 0) throw new Error('warm-up: no page of rows was read');
  return Math.round((limits.cost.baseMs + PAGE_SIZE * perRowMs) * 1000) / 1000;
}

export interface ThrottlingResult {
  figures: Figure[];
  /** Per run: adapter alone against dynamics-web-api, limits on (item 8). */
  clients: Run[];
  webApiFailures: string[];
}

export async function measureThrottling(options: { sim: SimulatorProcess; runs: number; clockScale: number }): Promise<ThrottlingResult> {
  const { sim } = options;
  const limits = await sim.control.limits();
  const contacts = sim.dataset.counts.contact;
  // The runner is told the service's window, as it would be told the documented 5 minutes.
  const adapterOptions = windowOptions(limits.windowMs / options.clockScale);
  // One adapter for the warm-up and every load, as in a runner that keeps going: it knows the
  // window it has been filling. (A new adapter's first requests into a window some other client
  // filled get 429s no pacing can foresee; that is the clients' comparison below, not this figure.)
  const runnerAdapter = simulatorAdapter(sim.url, adapterOptions);
  const pageMs = await warmUp(runnerAdapter, sim, limits);
  const allowed = ceiling(limits, pageMs, options.clockScale);
  const fractions: Run[] = [];
  const throttled: Run[] = [];
  for (let run = 1; run <= options.runs; run += 1) {
    const { rate, rejected, sent } = await loads(sim, runnerAdapter);
    fractions.push({ value: rate, reference: allowed });
    throttled.push({ value: rejected, reference: sent });
    log(`  run ${run}: ${LOADS_PER_RUN} engine loads ${Math.round(rate)} records/s (${(rate / allowed).toFixed(2)} of ${Math.round(allowed)}), ${rejected}/${sent} requests 429`);
  }
  const clients: Run[] = [];
  const webApiFailures: string[] = [];
  // With answers held, dynamics-web-api (one request at a time) goes at the pace the answers set, 25 s
  // a load here: it is loaded once and stands beside every run of the adapter.
  const pullWebApi = async () => {
    const outcome = await webApiPull(sim.url, ['contact']);
    if (outcome.error) webApiFailures.push(`${outcome.error} after ${outcome.rows} rows`);
    return outcome;
  };
  let heldWebApi: Awaited<ReturnType<typeof webApiPull>> | null = null;
  for (let run = 1; run <= options.runs; run += 1) {
    const adapter = await adapterPull(sim.url, ['contact'], adapterOptions);
    const webApi = limits.holdAnswers ? (heldWebApi ??= await pullWebApi()) : await pullWebApi();
    const complete = (outcome: { rows: number; ms: number; error?: string }) => (outcome.error || outcome.rows !== contacts ? 0 : perSecond(outcome.rows, outcome.ms));
    clients.push({ value: complete(adapter), reference: complete(webApi) });
    log(`  run ${run}: adapter alone ${Math.round(complete(adapter))}/s, dynamics-web-api ${webApi.error ? `failed after ${webApi.rows} rows` : `${Math.round(complete(webApi))}/s`}`);
  }
  const windowText = `${limits.windowMs / 1000} s window, ${limits.maxRequests} requests, ${limits.maxExecutionMs.toLocaleString('en-US')} ms execution, ${limits.maxConcurrent} at once`;
  return {
    figures: [
      makeFigure({
        key: 'throttling.fraction-of-ceiling', item: 7,
        label: `Initial loads of ${contacts.toLocaleString('en-US')} contacts, ${LOADS_PER_RUN} back to back (memory store), with limits on`, unit: 'records/s',
        reference: { label: 'ceiling the limits allow', unit: 'records/s' }, target: '≥ 0.8 of the ceiling',
        runs: fractions, met: ({ ratio }) => ratio >= 0.8,
        note: `limits: ${windowText}; page of ${PAGE_SIZE.toLocaleString('en-US')} whole rows charged ${pageMs.toLocaleString('en-US')} ms (${limits.cost.baseMs} ms + ${limits.cost.perRowMs} ms/row + ${limits.cost.perColumnMs} ms/column value); clock scale ${options.clockScale}; answers ${limits.holdAnswers ? 'held for their execution time' : 'as fast as computed'}`,
      }),
      makeFigure({
        key: 'throttling.share-429', item: 7, label: 'Same loads: requests answered 429', unit: 'requests',
        reference: { label: 'requests sent', unit: 'requests' }, target: '< 1% of requests', ratioAs: 'percent',
        runs: throttled, met: ({ ratio }) => ratio < 0.01,
      }),
    ],
    clients,
    webApiFailures,
  };
}

/** Engine loads of the contacts back to back: records/s, and the requests answered 429 among those sent. */
async function loads(sim: SimulatorProcess, adapter: CrmAdapter, count = LOADS_PER_RUN): Promise<{ rate: number; rejected: number; sent: number; servers: number }> {
  const before = await sim.control.lastSeq();
  let records = 0;
  let ms = 0;
  for (let load = 0; load < count; load += 1) {
    const result = await runCycleChecked(createRunner({ url: sim.url, store: createMemoryStore(), entities: ['contact'], reuse: adapter }).engine);
    records += result.records;
    ms += result.ms;
  }
  const entries = await sim.control.requestsSince(before);
  return {
    rate: perSecond(records, ms),
    rejected: entries.filter((entry) => entry.status === 429).length,
    sent: entries.length,
    servers: new Set(entries.map((entry) => entry.server)).size,
  };
}

/**
 * Item 7 with several web servers: the same loads against an org whose limits apply per server, the
 * ceiling being the sum of the servers'. The adapter as shipped (it never sends the affinity cookie
 * back), and beside it, run by run, an adapter whose fetch sends it back (pinned to one server), as
 * another user so that the two do not share windows.
 */
export async function measureWebServers(options: { sim: SimulatorProcess; runs: number; clockScale: number }): Promise<Figure[]> {
  const { sim } = options;
  const limits = await sim.control.limits();
  const servers = limits.webServers;
  const contacts = sim.dataset.counts.contact;
  const adapterOptions = windowOptions(limits.windowMs / options.clockScale);
  const spread = simulatorAdapter(sim.url, adapterOptions);
  // Another user (limits are per user): its loads neither drain the windows the adapter as shipped is
  // measured in, nor find them drained.
  const pinned = simulatorAdapter(sim.url, { ...adapterOptions, auth: { kind: 'static-token', token: 'sim-token-admin' }, fetch: affinityFetch() });
  const fractions: Run[] = [];
  const throttled: Run[] = [];
  const affinity: Run[] = [];
  let pageMs = 0;
  for (let run = 1; run <= options.runs; run += 1) {
    // Each adapter's windows are filled right before it is measured (the other's loads leave them
    // idle for longer than a window), and the shipped adapter loads once per server, so that a run
    // lasts more than a window at the ceiling: the figure is the sustained rate, not a fresh window's.
    pageMs = await warmUp(spread, sim, limits, servers);
    const allowed = ceiling(limits, pageMs, options.clockScale);
    const free = await loads(sim, spread, LOADS_PER_RUN * servers);
    await warmUp(pinned, sim, limits, 1);
    const kept = await loads(sim, pinned);
    fractions.push({ value: free.rate, reference: allowed });
    throttled.push({ value: free.rejected, reference: free.sent });
    affinity.push({ value: kept.rate, reference: free.rate });
    log(
      `  run ${run}: no cookie ${Math.round(free.rate)} records/s (${(free.rate / allowed).toFixed(2)} of ${Math.round(allowed)}, ${free.servers} servers), ` +
        `${free.rejected}/${free.sent} requests 429; cookie sent back ${Math.round(kept.rate)} records/s (${(kept.rate / allowed).toFixed(2)}, ${kept.servers} server), ${kept.rejected}/${kept.sent} 429`,
    );
  }
  const windowText = `${servers} web servers, each: ${limits.windowMs / 1000} s window, ${limits.maxRequests} requests, ${limits.maxExecutionMs.toLocaleString('en-US')} ms execution, ${limits.maxConcurrent} at once; x-ms-dop-hint ${limits.dopHint}`;
  return [
    makeFigure({
      key: 'throttling.servers.fraction-of-ceiling', item: 7,
      label: `Initial loads of ${contacts.toLocaleString('en-US')} contacts, ${LOADS_PER_RUN * servers} back to back, ${servers} web servers (no affinity cookie)`, unit: 'records/s',
      reference: { label: `ceiling of all ${servers} servers' limits`, unit: 'records/s' }, target: '≥ 0.95 of the ceiling',
      runs: fractions, met: ({ ratio }) => ratio >= 0.95,
      note: `limits: ${windowText}; page of ${PAGE_SIZE.toLocaleString('en-US')} whole rows charged ${pageMs.toLocaleString('en-US')} ms; clock scale ${options.clockScale}`,
    }),
    makeFigure({
      key: 'throttling.servers.share-429', item: 7, label: `Same loads, ${servers} web servers: requests answered 429`, unit: 'requests',
      reference: { label: 'requests sent', unit: 'requests' }, target: '< 1% of requests', ratioAs: 'percent',
      runs: throttled, met: ({ ratio }) => ratio < 0.01,
    }),
    makeFigure({
      key: 'throttling.servers.affinity', item: 7, label: `Same loads with the affinity cookie sent back (pinned to one of ${servers} servers)`, unit: 'records/s',
      reference: { label: 'without the cookie (the adapter as shipped), same run', unit: 'records/s' },
      runs: affinity,
    }),
  ];
}
