/**
 * Benchmark (not a test): full pull rate of contacts, in records per second, from the standalone
 * simulator over HTTP, for this adapter and for dynamics-web-api, with service protection limits
 * off and on.
 *
 * "Limits on" keeps the documented ratios (20 requests/s, 4 ms of execution per ms, 52 concurrent)
 * but compresses the 5-minute window so throttling shows within seconds: with the simulator's
 * cost model (10 ms + 0.4 ms per row) the ceiling is printed next to the results. Runs are not
 * reset between each other, so after the warm-up every run meets a loaded window.
 *
 * Run: pnpm --filter @crm-sync/dynamics-adapter bench   (options: --contacts <n> --runs <n> --compress <k>)
 */
import { parseArgs } from 'node:util';
import { DynamicsWebApi } from 'dynamics-web-api';
import { createEntityRegistry } from '@crm-sync/core';
import { DEFAULT_LIMITS, startSimulatorServer } from '@crm-sync/dynamics-simulator';
import type { LimitsInput, SimulatorServer } from '@crm-sync/dynamics-simulator';
import { createDynamicsAdapter } from '../src/index.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    contacts: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
    compress: { type: 'string', default: '100' },
  },
});
const CONTACTS = Number(values.contacts);
const RUNS = Number(values.runs);
const COMPRESS = Number(values.compress);
const PAGE_SIZE = 5000;
const FIELDS = ['firstname', 'lastname', 'emailaddress1', 'telephone1', 'jobtitle', 'parentcustomerid'];
const contact = createEntityRegistry().get('contact');

const LIMITS_ON: LimitsInput = {
  enabled: true,
  windowMs: DEFAULT_LIMITS.windowMs / COMPRESS,
  maxRequests: Math.round(DEFAULT_LIMITS.maxRequests / COMPRESS),
  maxExecutionMs: DEFAULT_LIMITS.maxExecutionMs / COMPRESS,
  maxConcurrent: DEFAULT_LIMITS.maxConcurrent,
};

/** Rows per second the limits allow for full pages, whichever limit binds first. */
function ceiling(limits: typeof DEFAULT_LIMITS): number {
  const perPageMs = limits.cost.baseMs + limits.cost.perRowMs * PAGE_SIZE;
  const byTime = ((limits.maxExecutionMs / limits.windowMs) * PAGE_SIZE) / perPageMs;
  const byCount = (limits.maxRequests / limits.windowMs) * PAGE_SIZE;
  return Math.min(byTime, byCount) * 1000;
}

interface Outcome {
  rows: number;
  ms: number;
  error?: string;
}

async function adapterPull(server: SimulatorServer): Promise<Outcome> {
  const crm = createDynamicsAdapter({ environmentUrl: server.url, auth: { kind: 'static-token', token: server.simulator.tokens.sync }, pageSize: PAGE_SIZE });
  const started = performance.now();
  let rows = 0;
  try {
    for await (const page of crm.pullChanges(contact, { checkpoint: null, fields: FIELDS })) rows += page.upserts.length + page.rejected.length;
  } catch (error) {
    return { rows, ms: performance.now() - started, error: (error as Error).message.slice(0, 120) };
  }
  return { rows, ms: performance.now() - started };
}

async function dwaPull(server: SimulatorServer): Promise<Outcome> {
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
  try {
    let page = await api.retrieveMultiple(request);
    rows += page.value.length;
    while (page.oDataNextLink) {
      page = await api.retrieveMultiple(request, page.oDataNextLink);
      rows += page.value.length;
    }
  } catch (error) {
    const status = (error as { status?: number }).status;
    return { rows, ms: performance.now() - started, error: `HTTP ${status ?? '?'}: ${String((error as Error).message).slice(0, 100)}` };
  }
  return { rows, ms: performance.now() - started };
}

const median = (numbers: number[]): number => {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

interface Series {
  rates: number[];
  failures: string[];
}

async function measure(label: string, limits: LimitsInput): Promise<Record<'adapter' | 'dwa', Series>> {
  const server = await startSimulatorServer({ contacts: CONTACTS, limits });
  const result = { adapter: { rates: [], failures: [] } as Series, dwa: { rates: [], failures: [] } as Series };
  try {
    // One warm-up pull each (JIT, and a loaded limits window for the measured runs).
    await adapterPull(server);
    await dwaPull(server);
    for (let run = 0; run < RUNS; run += 1) {
      for (const [name, pullOnce] of [
        ['adapter', adapterPull],
        ['dwa', dwaPull],
      ] as const) {
        const outcome = await pullOnce(server);
        const series = result[name];
        if (outcome.error || outcome.rows !== CONTACTS) series.failures.push(`${outcome.error ?? 'incomplete'} after ${fmt(outcome.rows)} rows`);
        else series.rates.push((outcome.rows / outcome.ms) * 1000);
        process.stderr.write(`  ${label} ${name} run ${run + 1}: ${outcome.error ? `failed (${outcome.error})` : `${fmt((outcome.rows / outcome.ms) * 1000)} rows/s`}\n`);
      }
    }
  } finally {
    await server.close();
  }
  return result;
}

function cell(series: Series): string {
  if (series.rates.length === 0) return `failed ${series.failures.length}/${RUNS}: ${series.failures[0] ?? ''}`;
  const failed = series.failures.length ? ` (${series.failures.length} of ${RUNS} runs failed)` : '';
  return `${fmt(median(series.rates))} rows/s${failed}`;
}

const ratio = (a: Series, b: Series): string => (a.rates.length && b.rates.length ? `${(median(a.rates) / median(b.rates)).toFixed(2)}x` : 'n/a');

const onCeiling = ceiling({ ...DEFAULT_LIMITS, ...LIMITS_ON, cost: DEFAULT_LIMITS.cost } as typeof DEFAULT_LIMITS);
console.log(`Full pull of ${fmt(CONTACTS)} contacts (${FIELDS.length} fields, pages of ${PAGE_SIZE}), standalone simulator over HTTP, median of ${RUNS} runs after a warm-up.`);
console.log(
  `Limits on: window ${LIMITS_ON.windowMs} ms, ${LIMITS_ON.maxRequests} requests, ${LIMITS_ON.maxExecutionMs} ms execution per window (documented limits / ${COMPRESS}); ceiling ${fmt(onCeiling)} rows/s.\n`,
);
const off = await measure('limits off', { enabled: false });
const on = await measure('limits on', LIMITS_ON);
const rows: Array<[string, string, string]> = [
  ['crm-sync dynamics-adapter', cell(off.adapter), `${cell(on.adapter)}${on.adapter.rates.length ? ` = ${(median(on.adapter.rates) / onCeiling).toFixed(2)} of ceiling` : ''}`],
  ['dynamics-web-api 2.5.0', cell(off.dwa), `${cell(on.dwa)}${on.dwa.rates.length ? ` = ${(median(on.dwa.rates) / onCeiling).toFixed(2)} of ceiling` : ''}`],
  ['adapter / dynamics-web-api', ratio(off.adapter, off.dwa), ratio(on.adapter, on.dwa)],
];
const width = Math.max(...rows.map((r) => r[1].length), 'limits off'.length) + 2;
console.log(`${''.padEnd(28)}${'limits off'.padEnd(width)}limits on`);
for (const [name, a, b] of rows) console.log(`${name.padEnd(28)}${a.padEnd(width)}${b}`);
