/**
 * Benchmark (not a test): the initial load of contacts, in records per second, from the standalone
 * simulator over HTTP: this adapter with `initialLoad.parallel` 'auto' (the default), true (key
 * ranges in parallel) and false (page after page), and dynamics-web-api, with the service
 * protection limits off and on.
 *
 * "Limits on" keeps the documented ratios (20 requests/s, 4 ms of execution per ms, 52 concurrent)
 * but divides the 5-minute window and its budgets by --compress, so that throttling shows within
 * seconds; the adapter is told that window (`serviceProtection.windowMs`), as it would be told an
 * environment's limits. With the simulator's cost model the ceiling is
 *
 *   ceiling = min(maxExecutionMs / (baseMs + perRowMs * P), maxRequests) / windowMs * P   rows per ms
 *
 * for pages of P rows: whichever budget runs out first, spent on full pages only. Each series
 * reuses one adapter (as an engine does) and starts with a warm-up load, so every measured load meets
 * a window its predecessor filled. 429s are counted from the adapter's request events.
 *
 * Run: pnpm --filter @crm-sync/dynamics-adapter bench   (options: --contacts <n> --runs <n> --compress <k> --limits both|off|on)
 */
import { parseArgs } from 'node:util';
import { DynamicsWebApi } from 'dynamics-web-api';
import { createEntityRegistry } from '@crm-sync/core';
import type { CrmAdapter } from '@crm-sync/core';
import { DEFAULT_LIMITS, startSimulatorServer } from '@crm-sync/dynamics-simulator';
import type { LimitsInput, SimulatorServer } from '@crm-sync/dynamics-simulator';
import { createDynamicsAdapter } from '../src/index.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    contacts: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
    compress: { type: 'string', default: '100' },
    limits: { type: 'string', default: 'both' },
  },
});
const CONTACTS = Number(values.contacts);
const RUNS = Number(values.runs);
const COMPRESS = Number(values.compress);
const PAGE_SIZE = 5000;
const FIELDS = ['firstname', 'lastname', 'emailaddress1', 'telephone1', 'jobtitle', 'parentcustomerid'];
const contact = createEntityRegistry().get('contact');

const LIMITS_ON = {
  enabled: true,
  windowMs: DEFAULT_LIMITS.windowMs / COMPRESS,
  maxRequests: Math.round(DEFAULT_LIMITS.maxRequests / COMPRESS),
  maxExecutionMs: DEFAULT_LIMITS.maxExecutionMs / COMPRESS,
  maxConcurrent: DEFAULT_LIMITS.maxConcurrent,
} satisfies LimitsInput;
const { cost } = DEFAULT_LIMITS;
const pageCost = cost.baseMs + cost.perRowMs * PAGE_SIZE;
const byTime = LIMITS_ON.maxExecutionMs / pageCost;
const byCount = LIMITS_ON.maxRequests;
const CEILING = ((Math.min(byTime, byCount) * PAGE_SIZE) / LIMITS_ON.windowMs) * 1000;

interface Outcome {
  rows: number;
  ms: number;
  requests: number;
  throttled: number;
  error?: string;
}

type Loader = (server: SimulatorServer) => () => Promise<Outcome>;

/** One adapter for the whole series; each call is one initial load. */
const adapterLoad =
  (parallel: boolean | 'auto', limits: boolean): Loader =>
  (server) => {
    const counts = { requests: 0, throttled: 0 };
    const crm: CrmAdapter = createDynamicsAdapter({
      environmentUrl: server.url,
      auth: { kind: 'static-token', token: server.simulator.tokens.sync },
      pageSize: PAGE_SIZE,
      initialLoad: { parallel },
      ...(limits ? { serviceProtection: { windowMs: LIMITS_ON.windowMs } } : {}),
      onEvent: (event) => {
        if (event.type !== 'request') return;
        counts.requests += 1;
        if (event.status === 429) counts.throttled += 1;
      },
    });
    return async () => {
      counts.requests = 0;
      counts.throttled = 0;
      const started = performance.now();
      const ids = new Set<string>();
      try {
        for await (const page of crm.pullChanges(contact, { checkpoint: null, fields: FIELDS })) for (const row of page.upserts) ids.add(row.id);
      } catch (error) {
        return { rows: ids.size, ms: performance.now() - started, ...counts, error: (error as Error).message.slice(0, 120) };
      }
      return { rows: ids.size, ms: performance.now() - started, ...counts };
    };
  };

const dwaLoad: Loader = (server) => async () => {
  const token = server.simulator.tokens.sync;
  const api = new DynamicsWebApi({ serverUrl: server.url, dataApi: { version: '9.2' }, onTokenRefresh: async () => token });
  const request = {
    collection: 'contacts',
    select: ['contactid', 'firstname', 'lastname', 'emailaddress1', 'telephone1', 'jobtitle', '_parentcustomerid_value', 'modifiedon', '_modifiedby_value'],
    maxPageSize: PAGE_SIZE,
    trackChanges: true,
    includeAnnotations: 'Microsoft.Dynamics.CRM.lookuplogicalname',
  };
  const started = performance.now();
  let rows = 0;
  let requests = 1;
  try {
    let page = await api.retrieveMultiple(request);
    rows += page.value.length;
    while (page.oDataNextLink) {
      requests += 1;
      page = await api.retrieveMultiple(request, page.oDataNextLink);
      rows += page.value.length;
    }
  } catch (error) {
    const status = (error as { status?: number }).status;
    return { rows, ms: performance.now() - started, requests, throttled: status === 429 ? 1 : 0, error: `HTTP ${status ?? '?'}: ${String((error as Error).message).slice(0, 100)}` };
  }
  return { rows, ms: performance.now() - started, requests, throttled: 0 };
};

const median = (numbers: number[]): number => {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

interface Series {
  rates: number[];
  requests: number;
  throttled: number;
  failures: string[];
}

const SERIES = ['auto', 'parallel', 'sequential', 'dwa'] as const;
type SeriesName = (typeof SERIES)[number];

const emptySeries = (): Series => ({ rates: [], requests: 0, throttled: 0, failures: [] });

/**
 * Limits off, the series take turns run after run (so that drift in the machine hits them alike);
 * limits on, each series runs on its own, after its own warm-up, so that every measured load meets
 * a window its own predecessor filled.
 */
async function measure(label: string, limits: LimitsInput): Promise<Record<SeriesName, Series>> {
  const server = await startSimulatorServer({ contacts: CONTACTS, limits });
  const on = limits.enabled !== false;
  const makers: Record<SeriesName, Loader> = { auto: adapterLoad('auto', on), parallel: adapterLoad(true, on), sequential: adapterLoad(false, on), dwa: dwaLoad };
  const result = { auto: emptySeries(), parallel: emptySeries(), sequential: emptySeries(), dwa: emptySeries() };
  const record = (name: SeriesName, run: number, outcome: Outcome) => {
    const series = result[name];
    series.requests += outcome.requests;
    series.throttled += outcome.throttled;
    if (outcome.error || outcome.rows !== CONTACTS) series.failures.push(`${outcome.error ?? 'incomplete'} after ${fmt(outcome.rows)} rows`);
    else series.rates.push((outcome.rows / outcome.ms) * 1000);
    const rate = `${fmt((outcome.rows / outcome.ms) * 1000)} rows/s, ${outcome.requests} requests, ${outcome.throttled} x 429`;
    process.stderr.write(`  ${label} ${name} run ${run + 1}: ${outcome.error ? `failed (${outcome.error})` : rate}\n`);
  };
  try {
    const loads = SERIES.map((name) => [name, makers[name](server)] as const);
    if (on) {
      for (const [name, load] of loads) {
        await load(); // warm-up
        for (let run = 0; run < RUNS; run += 1) record(name, run, await load());
      }
    } else {
      // Disabled limits are still counted and reported in the headers, which the adapter heeds:
      // a fresh window before each load keeps "off" meaning a full budget.
      const fresh = async (load: () => Promise<Outcome>) => {
        server.control.resetLimits();
        return load();
      };
      for (const [, load] of loads) await fresh(load); // warm-up
      for (let run = 0; run < RUNS; run += 1) for (const [name, load] of loads) record(name, run, await fresh(load));
    }
  } finally {
    await server.close();
  }
  return result;
}

function cell(series: Series, ceiling?: number): string {
  if (series.rates.length === 0) return `failed ${series.failures.length}/${RUNS}: ${series.failures[0] ?? ''}`;
  const failed = series.failures.length ? ` (${series.failures.length} of ${RUNS} runs failed)` : '';
  const share = series.requests ? ` ${((100 * series.throttled) / series.requests).toFixed(1)}% 429` : '';
  const fraction = ceiling ? ` = ${(median(series.rates) / ceiling).toFixed(2)} of ceiling,` : '';
  return `${fmt(median(series.rates))} rows/s${fraction}${share}${failed}`;
}

/** Ratio of medians, and (limits off, where the series take turns) the median of run-by-run ratios, which drift in the machine affects less. */
const ratio = (a: Series, b: Series): string => {
  if (!a.rates.length || !b.rates.length) return 'n/a';
  const paired = a.failures.length === 0 && b.failures.length === 0 ? a.rates.map((rate, i) => rate / b.rates[i]!) : [];
  return `${(median(a.rates) / median(b.rates)).toFixed(2)}x${paired.length ? ` (run by run ${median(paired).toFixed(2)}x)` : ''}`;
};

console.log(`Initial load of ${fmt(CONTACTS)} contacts (${FIELDS.length} fields, pages of ${PAGE_SIZE}), standalone simulator over HTTP, median of ${RUNS} runs after a warm-up.`);
console.log(
  `Limits on: window ${LIMITS_ON.windowMs} ms, ${LIMITS_ON.maxRequests} requests, ${LIMITS_ON.maxExecutionMs} ms execution per window (documented limits / ${COMPRESS}).`,
);
console.log(
  `Ceiling = min(${LIMITS_ON.maxExecutionMs} / (${cost.baseMs} + ${cost.perRowMs} x ${PAGE_SIZE}), ${LIMITS_ON.maxRequests}) / ${LIMITS_ON.windowMs} ms x ${PAGE_SIZE} rows = min(${byTime.toFixed(2)}, ${byCount}) pages per window = ${fmt(CEILING)} rows/s.`,
);
console.log(
  `The parallel load also reads every key once in its tracked read; the simulator charges a key-only row like a full one, so its own cap there is ${(pageCost / (2 * pageCost)).toFixed(2)} of the ceiling.\n`,
);
const notRun = (): Series => ({ ...emptySeries(), failures: ['not run'] });
const skipped = (): Record<SeriesName, Series> => ({ auto: notRun(), parallel: notRun(), sequential: notRun(), dwa: notRun() });
const off = values.limits === 'on' ? skipped() : await measure('limits off', { enabled: false });
const on = values.limits === 'off' ? skipped() : await measure('limits on', LIMITS_ON);
const rows: Array<[string, string, string]> = [
  ["adapter, 'auto' (default)", cell(off.auto), cell(on.auto, CEILING)],
  ['adapter, parallel ranges', cell(off.parallel), cell(on.parallel, CEILING)],
  ['adapter, page after page', cell(off.sequential), cell(on.sequential, CEILING)],
  ['dynamics-web-api 2.5.0', cell(off.dwa), cell(on.dwa, CEILING)],
  ["'auto' / dynamics-web-api", ratio(off.auto, off.dwa), ratio(on.auto, on.dwa)],
  ['parallel / dynamics-web-api', ratio(off.parallel, off.dwa), ratio(on.parallel, on.dwa)],
];
const width = Math.max(...rows.map((r) => r[1].length), 'limits off'.length) + 2;
console.log(`${''.padEnd(30)}${'limits off'.padEnd(width)}limits on`);
for (const [name, a, b] of rows) console.log(`${name.padEnd(30)}${a.padEnd(width)}${b}`);
