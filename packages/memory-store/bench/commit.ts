/**
 * The memory store on the initial-sync hot path: what the engine asks of the store for each page of
 * a contact sync, timed for this implementation and for the one before commit was reworked
 * (bench/reference-memory-store.ts), in one process, run by run, alternating which goes first.
 *
 *   pnpm bench                                   (from packages/memory-store; about a minute)
 *   MEMORY_BENCH_RUNS=7 MEMORY_BENCH_PAGES=60 MEMORY_BENCH_UPDATE_PAGES=20 pnpm bench
 *   MEMORY_BENCH_ONLY=current pnpm bench         (one implementation, e.g. under --cpu-prof)
 *
 * Per page, as `buildPageBatch` (core/src/engine/pull.ts) does for contacts: getRecordsByCrmId of
 * the page's ids and getRecords of those not found (contacts sync both ways; skipped for the first
 * full read into an empty entity, unless MEMORY_BENCH_LOOKUPS=always), getRecordsByCrmId of their
 * accounts, then one commit of the records, their activities, the checkpoint, engine state and
 * resolveQuarantine of every id. Phase 1 commits PAGES pages of 5,000 new contacts (one new-person
 * activity each) into an empty store; phase 2 UPDATE_PAGES pages of changes to existing contacts
 * (every pulled field written, two changed, two change-data-value activities each). Only
 * the store calls are timed, not building the pages. Figures: records per second of wall-clock time
 * and per second of CPU time of the process (garbage collection threads included; steadier than the
 * wall clock on a shared machine), medians of the runs; and the heap the store holds at the end.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ActivityInput, FieldMap, RecordWrite, StoreBatch, SyncStore } from '@crm-sync/core';
import { createMemoryStore } from '../src/index.js';
import { createMemoryStore as createReferenceStore } from './reference-memory-store.js';

const RUNS = Number(process.env.MEMORY_BENCH_RUNS ?? 5);
const PAGES = Number(process.env.MEMORY_BENCH_PAGES ?? 60);
const UPDATE_PAGES = Math.min(PAGES, Number(process.env.MEMORY_BENCH_UPDATE_PAGES ?? 20));
const PAGE_SIZE = Number(process.env.MEMORY_BENCH_PAGE_SIZE ?? 5_000);
const ONLY = process.env.MEMORY_BENCH_ONLY as 'current' | 'reference' | undefined;
/** `always`: new contacts are looked up too, as the engine did before it knew a first load (assumeNew). */
const LOOKUPS = process.env.MEMORY_BENCH_LOOKUPS;
const ACCOUNTS = 2_000;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const contactId = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const accountId = (a: number) => `00000000-0000-4000-9000-${String(a).padStart(12, '0')}`;
const ACCOUNT_IDS = Array.from({ length: ACCOUNTS }, (_, a) => accountId(a));
/** Strings as the engine has them: fresh and flat, out of a parsed response body. */
const parsed = (ids: string[]): string[] => JSON.parse(JSON.stringify(ids)) as string[];
const pageIds = (page: number) => parsed(Array.from({ length: PAGE_SIZE }, (_, k) => contactId(page * PAGE_SIZE + k)));

function accountFields(a: number): FieldMap {
  return {
    name: `Account ${a}`, accountnumber: `A-${a}`, industrycode: a % 30, address1_city: 'Oslo',
    address1_country: 'Norway', revenue: a * 1000.5, numberofemployees: a % 500, websiteurl: `https://a${a}.example`,
  };
}

function contactFields(i: number, version: number): FieldMap {
  return {
    firstname: `First${i}`, lastname: `Last${i}`, emailaddress1: `p${i}.v${version}@example.com`,
    telephone1: `+47 ${i}`, jobtitle: version > 1 ? `Title v${version}` : 'Engineer', address1_city: 'Bergen', donotemail: false,
  };
}

/** A page of new contacts, as the engine commits it. */
function createBatch(page: number, ids: string[]): StoreBatch {
  const accounts = parsed(ACCOUNT_IDS);
  const records: RecordWrite[] = [];
  const activities: ActivityInput[] = [];
  ids.forEach((id, k) => {
    const i = page * PAGE_SIZE + k;
    const crm = contactFields(i, 1);
    const a = i % ACCOUNTS;
    records.push({
      id, expectedRevision: 0, crmId: id, crmVersion: '1', fields: crm, base: crm, pending: [], seenIn: 'snapshot-1',
      accountId: accounts[a] as string, company: { ...accountFields(a) },
    });
    activities.push({ entity: 'contact', recordId: id, type: 'new-person', source: 'crm' });
  });
  return {
    entity: 'contact', records, checkpoint: `delta-${page}`, state: page === 0 ? { 'fields:contact': '["firstname"]' } : {},
    activities, collisions: [], quarantine: [], fanOuts: [], resolveQuarantine: ids,
  };
}

/** A page of CRM changes to existing contacts, merged: every pulled field written, two changed. */
function updateBatch(page: number, ids: string[], revisions: Map<string, number>): StoreBatch {
  const records: RecordWrite[] = [];
  const activities: ActivityInput[] = [];
  ids.forEach((id, k) => {
    const i = page * PAGE_SIZE + k;
    const fields = contactFields(i, 2);
    records.push({ id, expectedRevision: revisions.get(id) ?? -1, crmVersion: '2', fields, base: { ...fields }, pending: [] });
    activities.push(
      { entity: 'contact', recordId: id, type: 'change-data-value', source: 'crm', field: 'emailaddress1', oldValue: `p${i}.v1@example.com`, newValue: fields.emailaddress1 ?? null },
      { entity: 'contact', recordId: id, type: 'change-data-value', source: 'crm', field: 'jobtitle', oldValue: 'Engineer', newValue: fields.jobtitle ?? null },
    );
  });
  return {
    entity: 'contact', records, checkpoint: `delta-u${page}`, state: {}, activities, collisions: [], quarantine: [], fanOuts: [],
    resolveQuarantine: ids,
  };
}

/**
 * The engine's reads before it builds a page's batch; the revisions of the contacts found. A first
 * full read into an empty entity (`assumeNew`) looks up only the accounts.
 */
async function lookups(store: SyncStore, ids: string[], assumeNew: boolean): Promise<Map<string, number>> {
  const revisions = new Map<string, number>();
  if (!assumeNew) {
    for (const r of await store.getRecordsByCrmId('contact', ids)) revisions.set(r.crmId as string, r.revision);
    const unknown = ids.filter((id) => !revisions.has(id));
    if (unknown.length > 0) await store.getRecords('contact', unknown);
  }
  await store.getRecordsByCrmId('account', ACCOUNT_IDS); // 5,000 contacts of 2,000 accounts: all of them
  return revisions;
}

/** Wall-clock and process CPU time of the timed parts. */
class Timer {
  wallMs = 0;
  cpuMs = 0;
  private wall0 = 0;
  private cpu0 = process.cpuUsage();
  start(): void {
    this.wall0 = performance.now();
    this.cpu0 = process.cpuUsage();
  }
  stop(): void {
    this.wallMs += performance.now() - this.wall0;
    const d = process.cpuUsage(this.cpu0);
    this.cpuMs += (d.user + d.system) / 1000;
  }
}

/** Heap in use after garbage collection, once a few turns of the event loop let go of what they held. */
async function settledHeap(): Promise<number> {
  let heap = Infinity;
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    gc();
    const now = process.memoryUsage().heapUsed;
    if (now > heap - 1e5) return now;
    heap = now;
  }
  return heap;
}

type Phase = 'create' | 'update' | 'total';
type Result = Record<'wall' | 'cpu', Record<Phase, number>> & { heapMb: number };

async function run(createStore: () => SyncStore): Promise<Result> {
  const heapBefore = await settledHeap(); // the previous run's store gone
  const store = createStore();
  // The accounts first, as an initial sync does (not timed).
  await store.commit({
    entity: 'account',
    records: ACCOUNT_IDS.map((id, a) => {
      const f = accountFields(a);
      return { id, expectedRevision: 0, crmId: id, crmVersion: '1', fields: f, base: f, pending: [] };
    }),
  });
  const create = new Timer();
  for (let p = 0; p < PAGES; p++) {
    const ids = pageIds(p);
    const batch = createBatch(p, ids);
    create.start();
    await lookups(store, ids, LOOKUPS !== 'always');
    await store.commit(batch);
    create.stop();
  }
  const update = new Timer();
  for (let p = 0; p < UPDATE_PAGES; p++) {
    const ids = pageIds(p);
    update.start();
    const revisions = await lookups(store, ids, false);
    update.stop();
    const batch = updateBatch(p, ids, revisions);
    update.start();
    await store.commit(batch);
    update.stop();
  }
  const heapMb = ((await settledHeap()) - heapBefore) / 1e6; // what the store holds
  const stats = await store.stats('contact');
  if (stats.records !== PAGES * PAGE_SIZE) throw new Error(`expected ${PAGES * PAGE_SIZE} contacts, the store holds ${stats.records}`);
  const created = PAGES * PAGE_SIZE;
  const updated = UPDATE_PAGES * PAGE_SIZE;
  const rates = (createMs: number, updateMs: number) => ({
    create: created / (createMs / 1000),
    update: updated / (updateMs / 1000),
    total: (created + updated) / ((createMs + updateMs) / 1000),
  });
  return { wall: rates(create.wallMs, update.wallMs), cpu: rates(create.cpuMs, update.cpuMs), heapMb };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const implementations = { current: createMemoryStore, reference: createReferenceStore };
const results: Record<keyof typeof implementations, Result[]> = { current: [], reference: [] };

console.log(
  `memory store: ${PAGES} pages of ${fmt(PAGE_SIZE)} new contacts, then ${UPDATE_PAGES} pages of updates; ` +
    `${RUNS} runs${ONLY ? ` of ${ONLY} only` : ' each, alternating which goes first'}`,
);
for (let r = 0; r < RUNS; r++) {
  const order: (keyof typeof implementations)[] = r % 2 === 0 ? ['reference', 'current'] : ['current', 'reference'];
  const line: string[] = [];
  for (const name of order.filter((n) => !ONLY || n === ONLY)) {
    const result = await run(implementations[name]);
    results[name].push(result);
    line.push(`${name} ${fmt(result.wall.total)}/s (${fmt(result.cpu.total)} per CPU second, ${result.heapMb.toFixed(0)} MB)`);
  }
  console.log(`  run ${r + 1}: ${line.join(', ')}`);
}

if (!ONLY) {
  for (const clock of ['wall', 'cpu'] as const) {
    console.log(clock === 'wall' ? '\nrecords/s, wall clock, median     current   reference   ratio' : '\nrecords per CPU second, median    current   reference   ratio');
    for (const phase of ['create', 'update', 'total'] as const) {
      const current = median(results.current.map((x) => x[clock][phase]));
      const reference = median(results.reference.map((x) => x[clock][phase]));
      const label = { create: 'new contacts', update: 'updates', total: 'all pages' }[phase];
      console.log(`  ${label.padEnd(28)} ${fmt(current).padStart(9)}   ${fmt(reference).padStart(9)}   ${(current / reference).toFixed(2)}x`);
    }
    const ratios = results.current.map((c, i) => c[clock].total / (results.reference[i] as Result)[clock].total);
    console.log(`  run by run (all pages): ${ratios.map((x) => `${x.toFixed(2)}x`).join(', ')}`);
  }
  const current = median(results.current.map((x) => x.heapMb));
  const reference = median(results.reference.map((x) => x.heapMb));
  console.log(`\nheap held by the store, MB         ${current.toFixed(0).padStart(9)}   ${reference.toFixed(0).padStart(9)}   ${(current / reference).toFixed(2)}x`);
}
