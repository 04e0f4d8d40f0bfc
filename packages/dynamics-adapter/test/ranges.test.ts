import { describe, expect, it } from 'vitest';
import type { ChangePage } from '@crm-sync/core';
import type { Simulator } from '@crm-sync/dynamics-simulator';
import { adapterFor, apiRequests, contact, pagesThenCrash, pull, useMsw } from './helpers.js';

const msw = useMsw();
const FIELDS = ['firstname', 'lastname', 'jobtitle'];
/** Small ranges and pages so that a few hundred rows make many of each, read by four workers. */
const PARALLEL = { pageSize: 40, initialLoad: { parallel: true, rangeSize: 50, maxRanges: 4 } };

const parsed = (checkpoint: string) => JSON.parse(checkpoint) as { mode: string; from?: string | null; check?: boolean };

/** What a store holds after committing `pages` in order: the last upsert wins, a delete removes. */
function replay(pages: readonly ChangePage[], into = new Map<string, Record<string, unknown>>()) {
  for (const page of pages) {
    for (const row of page.upserts) into.set(row.id, row.fields);
    for (const id of page.deletes) into.delete(id);
  }
  return into;
}

/** The table as the simulator holds it: id -> jobtitle. */
function truth(sim: Simulator, ids: Iterable<string>) {
  const rows = new Map<string, unknown>();
  for (const id of ids) {
    const row = sim.control.getRow('contact', id);
    if (row) rows.set(id, row.jobtitle ?? null);
  }
  return rows;
}

const jobtitles = (rows: Map<string, Record<string, unknown>>) => new Map([...rows].map(([id, fields]) => [id, fields.jobtitle ?? null]));

/** Reads `count` pages, then abandons the pull as a crash would. */
describe('parallel initial load (change tracking)', () => {
  it('yields every row in one snapshot completed on its last page, reading key ranges beside a key-only tracked read', async () => {
    const sim = msw.simulate({ contacts: 600 });
    const { crm } = adapterFor(sim, PARALLEL);
    const result = await pull(crm, contact, FIELDS, null);

    const ids = result.upserts.map((r) => r.id);
    expect(new Set(ids).size).toBe(600);
    expect(ids).toHaveLength(600); // no key of the spine was read twice here
    // 12 ranges of 50 keys, each read as a page of 40 and one of 10.
    expect(result.pages).toHaveLength(24);
    expect(result.pages.every((p) => p.upserts.length <= 40)).toBe(true);
    expect(new Set(result.pages.map((p) => p.snapshot?.id)).size).toBe(1);
    expect(result.pages.map((p) => p.snapshot?.complete)).toEqual(result.pages.map((_, i) => i === result.pages.length - 1));
    expect(result.pages.slice(0, -1).every((p) => parsed(p.checkpoint).mode === 'tracking-ranges')).toBe(true);
    // Checkpoints stay small: one link, never a list of keys.
    expect(Math.max(...result.pages.map((p) => p.checkpoint.length))).toBeLessThan(2_000);
    expect(parsed(result.checkpoint!)).toMatchObject({ mode: 'delta', check: true });
    expect(Object.keys(result.upserts[0]!.fields).sort()).toEqual([...FIELDS].sort());

    const urls = apiRequests(sim).map((r) => r.url).filter((u) => u.includes('/contacts?'));
    const spine = urls.filter((u) => u.includes('$select=contactid') && !u.includes('$filter'));
    expect(spine).toHaveLength(12);
    const ranges = urls.filter((u) => u.includes('$filter=contactid'));
    expect(ranges).toHaveLength(12);
    expect(ranges.every((u) => u.includes('$top=50') && u.includes('$orderby=contactid asc'))).toBe(true);
    // The table's ends are open: the first range has no lower bound, the last no upper one.
    expect(ranges.filter((u) => !u.includes(' ge '))).toHaveLength(1);
    expect(ranges.filter((u) => !u.includes(' le '))).toHaveLength(1);
  });

  it('reads the whole table when the service orders keys differently from how its $filter compares them', async () => {
    // Rows created at run time sit at the end of the simulator's order whatever their GUID, while
    // its $filter compares GUIDs as text: range filters miss them, and the keys are read by id.
    const sim = msw.simulate({ contacts: 200 });
    const inserted = Array.from({ length: 60 }, (_, i) => sim.control.insertRow('contact', { lastname: `New ${i}` }).id);
    const { crm } = adapterFor(sim, PARALLEL);
    const result = await pull(crm, contact, FIELDS, null);
    const ids = new Set(result.upserts.map((r) => r.id));
    expect(ids.size).toBe(260);
    for (const id of inserted) expect(ids.has(id)).toBe(true);
    expect(apiRequests(sim).some((r) => / or contactid eq /.test(r.url))).toBe(true);
    expect(result.pages.at(-1)?.snapshot?.complete).toBe(true);
  });

  it('catches rows changed, created and deleted during the load in the following delta', async () => {
    const sim = msw.simulate({ contacts: 500 });
    const { crm } = adapterFor(sim, PARALLEL);
    const staff = sim.users.staff[0]!.id;
    const all = new Set(Array.from({ length: 500 }, (_, i) => sim.dataset.idOf('contact', i)));
    const pages: ChangePage[] = [];
    for await (const page of crm.pullChanges(contact, { checkpoint: null, fields: FIELDS })) {
      pages.push(page);
      if (pages.length === 2) {
        // Rows already yielded, rows not yet read, rows some worker may be reading right now.
        const seen = [...new Set(pages.flatMap((p) => p.upserts.map((r) => r.id)))];
        const later = [...all].filter((id) => !seen.includes(id));
        for (const id of [seen[0]!, seen[5]!, later[0]!, later[200]!, later.at(-1)!]) {
          sim.control.updateRow('contact', id, { jobtitle: 'changed during the load' }, { asUser: staff });
        }
        for (const id of [seen[1]!, later[1]!, later[300]!]) {
          sim.control.deleteRow('contact', id, { asUser: staff });
          all.delete(id);
        }
        all.add(sim.control.insertRow('contact', { lastname: 'Born during the load' }, { asUser: staff }).id);
      }
    }
    expect(pages.at(-1)?.snapshot?.complete).toBe(true);
    const delta = await pull(crm, contact, FIELDS, pages.at(-1)!.checkpoint);
    expect(delta.pages).toHaveLength(1);
    expect(delta.pages.every((p) => p.snapshot === null)).toBe(true);
    expect(delta.upserts.filter((r) => r.fields.jobtitle === 'changed during the load')).toHaveLength(5);
    expect(delta.deletes).toHaveLength(3);
    // Snapshot then delta, committed in order, hold exactly the table.
    expect(jobtitles(replay([...pages, ...delta.pages]))).toEqual(truth(sim, all));
    // The delta read full rows although the tracked read selected only the key; later ones stop checking.
    expect(parsed(delta.checkpoint!).check).toBeUndefined();
  });

  it('resumes after a crash at any page and finishes with every row, in the same snapshot', async () => {
    const sim = msw.simulate({ contacts: 400 });
    const ids = Array.from({ length: 400 }, (_, i) => sim.dataset.idOf('contact', i));
    for (const crashAfter of [1, 2, 3, 5, 8]) {
      const { crm } = adapterFor(sim, PARALLEL);
      const before = await pagesThenCrash(crm, null, crashAfter, FIELDS);
      expect(before).toHaveLength(crashAfter);
      sim.control.clearRequestLog();
      const rest = await pull(crm, contact, FIELDS, before.at(-1)!.checkpoint);
      const pages = [...before, ...rest.pages];
      expect(new Set(pages.map((p) => p.snapshot?.id)).size).toBe(1);
      expect(pages.filter((p) => p.snapshot?.complete)).toHaveLength(1);
      expect(pages.at(-1)?.snapshot?.complete).toBe(true);
      expect(replay(pages).size).toBe(400);
      expect(new Set(pages.flatMap((p) => p.upserts.map((r) => r.id)))).toEqual(new Set(ids));
      // Only ranges not committed in full are read again (after 8 pages, the first ones are).
      if (crashAfter === 8) expect(rest.upserts.length).toBeLessThan(400);
    }
  });

  it('resumes twice in a row and keeps the delta token of the first read', async () => {
    const sim = msw.simulate({ contacts: 400 });
    const { crm } = adapterFor(sim, PARALLEL);
    const first = await pagesThenCrash(crm, null, 4, FIELDS);
    const changed = sim.dataset.idOf('contact', 399);
    sim.control.updateRow('contact', changed, { jobtitle: 'between the crashes' });
    const second = await pagesThenCrash(crm, first.at(-1)!.checkpoint, 3, FIELDS);
    const rest = await pull(crm, contact, FIELDS, second.at(-1)!.checkpoint);
    const pages = [...first, ...second, ...rest.pages];
    expect(new Set(pages.map((p) => p.snapshot?.id)).size).toBe(1);
    expect(replay(pages).size).toBe(400);
    // The change is in the delta too: the token dates from the first spine request.
    const delta = await pull(crm, contact, FIELDS, rest.checkpoint);
    expect(delta.upserts.map((r) => [r.id, r.fields.jobtitle])).toEqual([[changed, 'between the crashes']]);
  });

  it('starts a new snapshot when the stored spine link is refused', async () => {
    const sim = msw.simulate({ contacts: 300 });
    const { crm, events } = adapterFor(sim, PARALLEL);
    const before = await pagesThenCrash(crm, null, 3, FIELDS);
    const state = parsed(before.at(-1)!.checkpoint);
    const broken = JSON.stringify({ ...state, from: `${sim.webApiUrl()}contacts?$select=contactid&$skiptoken=${encodeURIComponent('<cookie pagenumber="2" pagingcookie="x" istracking="True" />')}` });
    const rest = await pull(crm, contact, FIELDS, broken);
    expect(events.some((e) => e.type === 'checkpoint-reset')).toBe(true);
    expect(rest.pages).toHaveLength(12);
    expect(rest.pages.every((p) => p.snapshot?.id !== before[0]!.snapshot?.id)).toBe(true);
    expect(new Set(rest.upserts.map((r) => r.id)).size).toBe(300);
    expect(rest.pages.at(-1)?.snapshot?.complete).toBe(true);
  });

  it('restarts the snapshot when the fields changed since the crash, and resumes a parallel load even with the option off', async () => {
    const sim = msw.simulate({ contacts: 300 });
    const { crm } = adapterFor(sim, PARALLEL);
    const before = await pagesThenCrash(crm, null, 2, FIELDS);
    const other = await pull(crm, contact, ['lastname'], before.at(-1)!.checkpoint);
    expect(other.pages).toHaveLength(12);
    expect(other.pages.every((p) => p.snapshot?.id !== before[0]!.snapshot?.id)).toBe(true);
    expect(new Set(other.upserts.map((r) => r.id)).size).toBe(300);

    const sequential = adapterFor(sim, { ...PARALLEL, initialLoad: { parallel: false } });
    const rest = await pull(sequential.crm, contact, FIELDS, before.at(-1)!.checkpoint);
    // How much is left depends on which ranges the parallel workers had finished: some, never none.
    expect(rest.pages.length).toBeGreaterThan(0);
    expect(rest.pages.every((p) => p.snapshot?.id === before[0]!.snapshot?.id)).toBe(true);
    expect(replay([...before, ...rest.pages]).size).toBe(300);
  });

  it('falls back to a snapshot read page after page if the delta ignores the $select put on the key-only deltaLink', async () => {
    const sim = msw.simulate({ contacts: 120 });
    let stripped = 0;
    // A service that keeps the deltaLink's own $select, once.
    const fetch = (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      if (url.includes('$deltatoken') && stripped === 0) {
        stripped += 1;
        return globalThis.fetch(url.replace(/\$select=[^&]*/, '$select=contactid'), init);
      }
      return globalThis.fetch(input, init);
    };
    const { crm, events } = adapterFor(sim, { ...PARALLEL, fetch });
    const initial = await pull(crm, contact, FIELDS, null);
    sim.control.updateRow('contact', sim.dataset.idOf('contact', 7), { jobtitle: 'x' });
    const next = await pull(crm, contact, FIELDS, initial.checkpoint);
    expect(events.filter((e) => e.type === 'checkpoint-reset')).toHaveLength(1);
    expect(next.pages.at(-1)?.snapshot?.complete).toBe(true);
    expect(next.upserts.find((r) => r.id === sim.dataset.idOf('contact', 7))?.fields.jobtitle).toBe('x');
    // That read was page after page: its deltaLink carries every column, nothing left to check.
    expect(parsed(next.checkpoint!)).toMatchObject({ mode: 'delta' });
    expect(parsed(next.checkpoint!).check).toBeUndefined();
  });

  it('ends an empty table with one empty, complete page', async () => {
    const sim = msw.simulate({ contacts: 0 });
    const { crm } = adapterFor(sim, PARALLEL);
    const result = await pull(crm, contact, FIELDS, null);
    expect(result.pages).toHaveLength(1);
    expect(result.pages[0]).toMatchObject({ upserts: [], snapshot: { complete: true } });
    expect(parsed(result.checkpoint!).mode).toBe('delta');
  });

  it('stops promptly when aborted and when the caller stops reading', async () => {
    const sim = msw.simulate({ contacts: 400 });
    const { crm } = adapterFor(sim, PARALLEL);
    const controller = new AbortController();
    const pages: ChangePage[] = [];
    const error = await (async () => {
      for await (const page of crm.pullChanges(contact, { checkpoint: null, fields: FIELDS, signal: controller.signal })) {
        pages.push(page);
        controller.abort();
      }
    })().then(
      () => null,
      (e: unknown) => e,
    );
    expect((error as { code?: string } | null)?.code).toBe('ABORTED');
    expect(pages).toHaveLength(1);
    const requests = apiRequests(sim).length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(apiRequests(sim).length).toBe(requests);
  });
});

describe("initialLoad.parallel 'auto' (the default)", () => {
  /** Requests for contacts: the key-only spine, and reads of whole rows (tracked or by range). */
  const contactReads = (sim: Simulator) => {
    const urls = apiRequests(sim).map((r) => new URL(r.url)).filter((u) => u.pathname.endsWith('/contacts'));
    const select = (u: URL) => u.searchParams.get('$select');
    return { keys: urls.filter((u) => select(u) === 'contactid').map(String), rows: urls.filter((u) => select(u)?.includes('firstname')).map((u) => decodeURIComponent(String(u))) };
  };

  it.each([
    ['a service that sends no rate-limit headers', { limits: { enabled: false } }, {}],
    ['pacing turned off', {}, { serviceProtection: { pacing: false } }],
  ])('reads page after page, with no key-only read, from %s', async (_what, service, options) => {
    const sim = msw.simulate({ contacts: 300, ...service });
    const { crm } = adapterFor(sim, { pageSize: 100, initialLoad: { rangeSize: 100 }, ...options });
    const result = await pull(crm, contact, FIELDS, null);
    expect(result.pages.map((p) => p.upserts.length)).toEqual([100, 100, 100]);
    expect(result.pages.slice(0, -1).every((p) => parsed(p.checkpoint).mode === 'tracking-snapshot')).toBe(true);
    expect(contactReads(sim).keys).toEqual([]);
    expect(contactReads(sim).rows).toHaveLength(3);
  });

  it('reads in parallel ranges from a service that sends rate-limit headers (one reader could spend at most a quarter of the budget)', async () => {
    const sim = msw.simulate({ contacts: 300 });
    const { crm } = adapterFor(sim, { pageSize: 100, initialLoad: { rangeSize: 100 } });
    const result = await pull(crm, contact, FIELDS, null);
    expect(new Set(result.upserts.map((r) => r.id)).size).toBe(300);
    expect(new Set(result.pages.map((p) => p.snapshot?.id)).size).toBe(1);
    expect(result.pages.length).toBeGreaterThan(1);
    expect(result.pages.slice(0, -1).every((p) => parsed(p.checkpoint).mode === 'tracking-ranges')).toBe(true);
    expect(result.pages.at(-1)?.snapshot?.complete).toBe(true);
    // Every whole row came from a range read.
    const reads = contactReads(sim);
    expect(reads.keys).toHaveLength(3);
    expect(reads.rows).toHaveLength(3);
    expect(reads.rows.every((u) => u.includes('$filter=contactid'))).toBe(true);
  });
});

