import { describe, expect, it } from 'vitest';
import type { ChangePage } from '@crm-sync/core';
import { createClock } from '@crm-sync/dynamics-simulator';
import { adapterFor, apiRequests, contact, failure, pull, useMsw } from './helpers.js';

const msw = useMsw();
const FIELDS = ['firstname', 'lastname', 'jobtitle', 'parentcustomerid'];
const mode = (checkpoint: string | null) => (JSON.parse(checkpoint ?? '{}') as { mode?: string }).mode;

const SEQUENTIAL = { initialLoad: { parallel: false } };

describe('initial sync page after page (change tracking, initialLoad.parallel false)', () => {
  it('reads a table of several pages as one snapshot, completed on the last page, ending with a deltaLink', async () => {
    const sim = msw.simulate({ contacts: 250 });
    const { crm } = adapterFor(sim, SEQUENTIAL);
    const result = await pull(crm, contact, FIELDS, null);
    expect(result.pages.map((p) => p.upserts.length)).toEqual([100, 100, 50]);
    const ids = new Set(result.upserts.map((r) => r.id));
    expect(ids.size).toBe(250);
    const snapshotIds = new Set(result.pages.map((p) => p.snapshot?.id));
    expect(snapshotIds.size).toBe(1);
    expect(result.pages.map((p) => p.snapshot?.complete)).toEqual([false, false, true]);
    expect(result.pages.slice(0, 2).map((p) => mode(p.checkpoint))).toEqual(['tracking-snapshot', 'tracking-snapshot']);
    expect(mode(result.checkpoint)).toBe('delta');
    const row = result.upserts.find((r) => r.lookups.parentcustomerid);
    expect(row?.lookups.parentcustomerid).toEqual({ id: row?.fields.parentcustomerid, entity: expect.stringMatching(/^(account|contact)$/) });
    expect(Object.keys(row?.fields ?? {}).sort()).toEqual([...FIELDS].sort());
    // Every request asked for change tracking, the page size and the lookup target annotation.
    const first = sim.control.requestLog().find((e) => e.url.includes('/contacts?'));
    expect(first).toBeDefined();
  });

  it('resumes a crashed initial sync at the next page, in the same snapshot', async () => {
    const sim = msw.simulate({ contacts: 250 });
    const { crm } = adapterFor(sim, SEQUENTIAL);
    const firstPage: ChangePage | undefined = (await crm.pullChanges(contact, { checkpoint: null, fields: FIELDS })[Symbol.asyncIterator]().next()).value;
    expect(firstPage?.snapshot?.complete).toBe(false);
    sim.control.clearRequestLog();
    const rest = await pull(crm, contact, FIELDS, firstPage!.checkpoint);
    expect(rest.pages.map((p) => p.upserts.length)).toEqual([100, 50]);
    expect(rest.pages.every((p) => p.snapshot?.id === firstPage!.snapshot?.id)).toBe(true);
    const seen = new Set(firstPage!.upserts.map((r) => r.id));
    expect(rest.upserts.some((r) => seen.has(r.id))).toBe(false);
    expect(seen.size + rest.upserts.length).toBe(250);
    // The resumed pull went straight to the paging cookie; the first page was not read again.
    const resumed = apiRequests(sim).filter((r) => r.url.includes('/contacts?'));
    expect(resumed).toHaveLength(2);
    expect(resumed.filter((r) => !r.url.includes('$skiptoken'))).toEqual([]);
  });
});

describe('delta (change tracking)', () => {
  it('returns updates, creates and deletes since the checkpoint, then an empty page with a new checkpoint', async () => {
    const sim = msw.simulate({ contacts: 120 });
    const { crm } = adapterFor(sim);
    const initial = await pull(crm, contact, FIELDS, null);
    const staff = sim.users.staff[0]!.id;
    const changed = sim.dataset.idOf('contact', 10);
    const deleted = sim.dataset.idOf('contact', 11);
    sim.control.updateRow('contact', changed, { jobtitle: "Chief O'Tester" }, { asUser: staff });
    sim.control.deleteRow('contact', deleted, { asUser: staff });
    const created = sim.control.insertRow('contact', { firstname: 'Neo', lastname: 'Contact' }, { asUser: staff });

    const delta = await pull(crm, contact, FIELDS, initial.checkpoint);
    expect(delta.pages).toHaveLength(1);
    expect(delta.pages[0]?.snapshot).toBeNull();
    expect(delta.upserts.map((r) => r.id).sort()).toEqual([changed, created.id].sort());
    expect(delta.upserts.find((r) => r.id === changed)).toMatchObject({ fields: { jobtitle: "Chief O'Tester" }, bySyncUser: false, version: created.etag ? expect.any(String) : '' });
    expect(delta.deletes).toEqual([deleted]);
    expect(mode(delta.checkpoint)).toBe('delta');
    expect(delta.checkpoint).not.toBe(initial.checkpoint);

    const quiet = await pull(crm, contact, FIELDS, delta.checkpoint);
    expect(quiet.pages).toHaveLength(1);
    expect(quiet.pages[0]).toMatchObject({ upserts: [], deletes: [], rejected: [], snapshot: null });
  });

  it('pages a delta with more changes than a page', async () => {
    const sim = msw.simulate({ contacts: 260 });
    const { crm } = adapterFor(sim);
    const initial = await pull(crm, contact, ['jobtitle'], null);
    for (let i = 0; i < 230; i += 1) sim.control.updateRow('contact', sim.dataset.idOf('contact', i), { jobtitle: `t${i}` });
    const delta = await pull(crm, contact, ['jobtitle'], initial.checkpoint);
    expect(delta.pages.map((p) => p.upserts.length)).toEqual([100, 100, 30]);
    expect(delta.pages.every((p) => p.snapshot === null && mode(p.checkpoint) === 'delta')).toBe(true);
  });

  it("marks rows last changed by the sync user's own writes as echoes (R13)", async () => {
    const sim = msw.simulate({ contacts: 50 });
    const { crm } = adapterFor(sim);
    const initial = await pull(crm, contact, FIELDS, null);
    const target = initial.upserts[3]!;
    const [written] = await crm.updateRecords(contact, [{ id: target.id, ifVersion: target.version, fields: { jobtitle: 'Echo' } }]);
    expect(written).toMatchObject({ ok: true });
    sim.control.updateRow('contact', initial.upserts[4]!.id, { jobtitle: 'Human' });
    const delta = await pull(crm, contact, FIELDS, initial.checkpoint);
    const echo = delta.upserts.find((r) => r.id === target.id);
    expect(echo).toMatchObject({ bySyncUser: true, fields: { jobtitle: 'Echo' } });
    expect(written?.ok && echo?.version).toBe(written?.ok ? written.version : 'never');
    expect(delta.upserts.find((r) => r.id === initial.upserts[4]!.id)?.bySyncUser).toBe(false);
  });

  it('falls back to a full snapshot when the delta token has expired, never to silent loss', async () => {
    const sim = msw.simulate({ contacts: 150 });
    const { crm, events } = adapterFor(sim);
    const initial = await pull(crm, contact, FIELDS, null);
    sim.control.deleteRow('contact', sim.dataset.idOf('contact', 5));
    sim.control.expireDeltaTokens();
    const resync = await pull(crm, contact, FIELDS, initial.checkpoint);
    const reset = events.find((e) => e.type === 'checkpoint-reset');
    expect(reset?.type === 'checkpoint-reset' && reset.error.code).toBe('CHECKPOINT_INVALID');
    expect(reset?.type === 'checkpoint-reset' && reset.error.details).toMatchObject({ status: 400, crmMessage: expect.stringContaining('expired') });
    expect(resync.pages).toHaveLength(2);
    expect(resync.pages.every((p) => p.snapshot !== null)).toBe(true);
    expect(resync.pages.at(-1)?.snapshot?.complete).toBe(true);
    expect(new Set(resync.pages.map((p) => p.snapshot?.id)).size).toBe(1);
    // The deleted row is simply absent from the completed snapshot: core flags it (reconciliation).
    expect(resync.upserts).toHaveLength(149);
    expect(mode(resync.checkpoint)).toBe('delta');
    // And the new token works.
    sim.control.updateRow('contact', sim.dataset.idOf('contact', 6), { jobtitle: 'after' });
    expect((await pull(crm, contact, FIELDS, resync.checkpoint)).upserts).toHaveLength(1);
  });

  it('also treats a token past its age limit as expired', async () => {
    const clock = createClock({ manual: true });
    const sim = msw.simulate({ contacts: 30, clock, deltaTokenMaxAgeMs: 7 * 86_400_000 });
    const { crm, events } = adapterFor(sim);
    const initial = await pull(crm, contact, FIELDS, null);
    clock.advance(8 * 86_400_000);
    const resync = await pull(crm, contact, FIELDS, initial.checkpoint);
    expect(events.some((e) => e.type === 'checkpoint-reset')).toBe(true);
    expect(resync.upserts).toHaveLength(30);
  });

  it('starts over with a snapshot from a checkpoint it cannot use', async () => {
    const sim = msw.simulate({ contacts: 30 });
    const { crm, events } = adapterFor(sim);
    const initial = await pull(crm, contact, FIELDS, null);
    const foreign = initial.checkpoint!.replace('https://simulated.crm.dynamics.com/api/data/v9.2/', 'https://simulated.crm.dynamics.com/elsewhere/');
    const otherEntity = initial.checkpoint!.replace('"entity":"contact"', '"entity":"lead"');
    for (const bad of ['not json', '{"v":99}', otherEntity, foreign]) {
      const result = await pull(crm, contact, FIELDS, bad);
      expect(result.upserts).toHaveLength(30);
      expect(result.pages.at(-1)?.snapshot?.complete).toBe(true);
    }
    expect(events.filter((e) => e.type === 'checkpoint-reset')).toHaveLength(4);
  });

  it('keeps the delta token when a field is added, and reads the new field from then on', async () => {
    const sim = msw.simulate({ contacts: 40 });
    const { crm, events } = adapterFor(sim);
    const initial = await pull(crm, contact, FIELDS, null);
    sim.control.addColumn('contact', { logicalName: 'new_tier', type: 'Integer' });
    const id = sim.dataset.idOf('contact', 2);
    sim.control.updateRow('contact', id, { new_tier: 2 });
    const delta = await pull(crm, contact, [...FIELDS, 'new_tier'], initial.checkpoint);
    expect(events.some((e) => e.type === 'checkpoint-reset')).toBe(false);
    expect(delta.upserts).toHaveLength(1);
    expect(delta.upserts[0]).toMatchObject({ id, fields: { new_tier: 2 } });
    expect(delta.checkpoint).toContain('new_tier');
  });
});

describe('links with a narrower $select than asked for (Microsoft\'s change-tracking example)', () => {
  const selectOf = (checkpoint: string | null) => new URL((JSON.parse(checkpoint ?? '{}') as { link: string }).link).searchParams.get('$select')!.split(',');
  const jobtitleOf = (sim: ReturnType<typeof msw.simulate>, id: string) => sim.control.getRow('contact', id)?.jobtitle;

  it('stores a deltaLink with every column it needs, so a later change of a dropped column is read', async () => {
    const sim = msw.simulate({ contacts: 150, quirks: { narrowLinks: { drop: ['jobtitle'], links: ['deltaLink'] } } });
    const { crm, events } = adapterFor(sim, SEQUENTIAL);
    const initial = await pull(crm, contact, FIELDS, null);
    expect(selectOf(initial.checkpoint)).toContain('jobtitle');
    const id = sim.dataset.idOf('contact', 5);
    sim.control.updateRow('contact', id, { jobtitle: 'Head of Tests' });
    const delta = await pull(crm, contact, FIELDS, initial.checkpoint);
    expect(delta.upserts.map((r) => [r.id, r.fields.jobtitle])).toEqual([[id, 'Head of Tests']]);
    expect(selectOf(delta.checkpoint)).toContain('jobtitle');
    expect(events.some((e) => e.type === 'checkpoint-reset')).toBe(false);
  });

  it('follows nextLinks and stored links with the columns they lack put back', async () => {
    const sim = msw.simulate({ contacts: 250, quirks: { narrowLinks: { drop: ['jobtitle'], links: ['nextLink'] } } });
    const { crm, events } = adapterFor(sim, SEQUENTIAL);
    const initial = await pull(crm, contact, FIELDS, null);
    expect(initial.upserts).toHaveLength(250);
    expect(initial.upserts.filter((r) => r.fields.jobtitle !== jobtitleOf(sim, r.id))).toEqual([]);
    const nextLinks = initial.pages.slice(0, 2).map((p) => JSON.parse(p.checkpoint).next as string);
    expect(nextLinks).toHaveLength(2);
    expect(nextLinks.filter((link) => !link.includes('jobtitle'))).toEqual([]);

    // A deltaLink stored narrow (by an adapter before this check): followed with the column put back.
    sim.control.setQuirks(null);
    const stored = JSON.parse(initial.checkpoint!) as { link: string };
    stored.link = stored.link.replace(/jobtitle,?/, '').replace(/,(&|$)/, '$1');
    expect(selectOf(JSON.stringify(stored))).not.toContain('jobtitle');
    const id = sim.dataset.idOf('contact', 7);
    sim.control.updateRow('contact', id, { jobtitle: 'Chief Tester' });
    const delta = await pull(crm, contact, FIELDS, JSON.stringify(stored));
    expect(delta.upserts.map((r) => [r.id, r.fields.jobtitle])).toEqual([[id, 'Chief Tester']]);
    expect(events.some((e) => e.type === 'checkpoint-reset')).toBe(false);
  });

  it('never reports a column absent from a row as null: the row is read again by id, or quarantined', async () => {
    const sim = msw.simulate({ contacts: 30 });
    let strip: 'delta' | 'all' = 'delta';
    // Answers whose rows lack jobtitle: a delta page only, or every read.
    const fetch = async (url: string | URL | Request, init?: RequestInit) => {
      const response = await globalThis.fetch(url, init);
      const target = decodeURIComponent(String(url));
      if (!target.includes('/contacts?') || (strip === 'delta' && !target.includes('$deltatoken'))) return response;
      const body = (await response.json()) as { value: Array<Record<string, unknown>> };
      for (const row of body.value) delete row.jobtitle;
      return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
    };
    const { crm } = adapterFor(sim, { fetch, ...SEQUENTIAL });
    const initial = await pull(crm, contact, FIELDS, null);
    const id = sim.dataset.idOf('contact', 4);
    sim.control.updateRow('contact', id, { jobtitle: 'Read by id', firstname: 'Ida' });
    const delta = await pull(crm, contact, FIELDS, initial.checkpoint);
    expect(delta.upserts.map((r) => r.fields)).toEqual([expect.objectContaining({ firstname: 'Ida', jobtitle: 'Read by id' })]);
    expect(delta.rejected).toEqual([]);

    strip = 'all';
    sim.control.updateRow('contact', id, { jobtitle: 'Never null', firstname: 'Ada' });
    const again = await pull(crm, contact, FIELDS, delta.checkpoint);
    expect(again.upserts).toEqual([]);
    expect(again.rejected).toEqual([expect.objectContaining({ id, reason: expect.stringContaining('jobtitle') })]);
  });
});

describe('what the service sends', () => {
  it('re-reads a page whose body is malformed JSON', async () => {
    const sim = msw.simulate({ contacts: 250, faults: { rules: [{ kind: 'malformed-json', rate: 1, path: '/contacts', limit: 1 }] } });
    const { crm, events } = adapterFor(sim);
    const result = await pull(crm, contact, FIELDS, null);
    expect(new Set(result.upserts.map((r) => r.id)).size).toBe(250);
    expect(events.filter((e) => e.type === 'retry' && e.reason === 'invalid-response')).toHaveLength(1);
  });

  it('fails with CRM_RESPONSE_INVALID when every answer is malformed, keeping the last checkpoint usable', async () => {
    const sim = msw.simulate({ contacts: 250, faults: { rules: [{ kind: 'malformed-json', rate: 1, path: '$skiptoken' }] } });
    const { crm } = adapterFor(sim, SEQUENTIAL);
    const pages: ChangePage[] = [];
    const error = await failure(
      (async () => {
        for await (const page of crm.pullChanges(contact, { checkpoint: null, fields: FIELDS })) pages.push(page);
      })(),
    );
    expect(error.code).toBe('CRM_RESPONSE_INVALID');
    expect(pages).toHaveLength(1);
    sim.control.setFaults(null);
    const resumed = await pull(crm, contact, FIELDS, pages[0]!.checkpoint);
    expect(resumed.upserts).toHaveLength(150);
  });

  it('re-reads a delta page whose delete row came without its id, so the delete is not lost', async () => {
    const sim = msw.simulate({ contacts: 120 });
    const { crm, events } = adapterFor(sim);
    const initial = await pull(crm, contact, FIELDS, null);
    const deleted = sim.dataset.idOf('contact', 7);
    sim.control.deleteRow('contact', deleted);
    sim.control.setFaults({ rules: [{ kind: 'keyless', rate: 1, path: '$deltatoken', limit: 1 }] });
    const delta = await pull(crm, contact, FIELDS, initial.checkpoint);
    expect(delta.deletes).toEqual([deleted]);
    expect(delta.rejected).toEqual([]);
    expect(events.filter((e) => e.type === 'retry' && e.reason === 'keyless-row')).toHaveLength(1);
    expect(events.some((e) => e.type === 'checkpoint-reset')).toBe(false);
  });

  it('starts a full read when delta rows keep coming without their key, instead of moving the token past them', async () => {
    const sim = msw.simulate({ contacts: 120 });
    const { crm, events } = adapterFor(sim);
    const initial = await pull(crm, contact, FIELDS, null);
    const deleted = sim.dataset.idOf('contact', 7);
    const changed = sim.dataset.idOf('contact', 8);
    sim.control.deleteRow('contact', deleted);
    sim.control.updateRow('contact', changed, { jobtitle: 'keyless' });
    // Every delta answer loses a key; full reads are clean.
    sim.control.setFaults({ rules: [{ kind: 'keyless', rate: 1, path: '$deltatoken' }] });
    const resync = await pull(crm, contact, FIELDS, initial.checkpoint);
    expect(events.filter((e) => e.type === 'retry' && e.reason === 'keyless-row')).toHaveLength(2);
    const reset = events.find((e) => e.type === 'checkpoint-reset');
    expect(reset?.type === 'checkpoint-reset' && reset.error.message).toMatch(/without a readable key/);
    // Nothing of the broken delta was handed out: only the full read, whose completion lets core flag the delete.
    expect(resync.pages).toHaveLength(2);
    expect(resync.pages.every((p) => p.snapshot !== null)).toBe(true);
    expect(resync.pages.at(-1)?.snapshot?.complete).toBe(true);
    expect(resync.upserts).toHaveLength(119);
    expect(resync.upserts.some((r) => r.id === deleted)).toBe(false);
    expect(resync.upserts.find((r) => r.id === changed)?.fields.jobtitle).toBe('keyless');
    expect(mode(resync.checkpoint)).toBe('delta');
  });

  it('follows the parsed nextLink when the end of a body suggested another one', async () => {
    const sim = msw.simulate({ contacts: 250 });
    const sent: string[] = [];
    // A service that writes the nextLink before the rows, whose last row carries an object with a
    // nextLink of its own: the link read early from the end of the body is the wrong one.
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const url = String(input);
      sent.push(decodeURIComponent(url));
      const response = await globalThis.fetch(input, init);
      if (!url.includes('/contacts?') && !url.includes('/contacts%3F')) return response;
      const page = (await response.json()) as { value: unknown[]; '@odata.nextLink'?: string };
      const { value, ...links } = page;
      const decoy = `${sim.url}/api/data/v9.2/contacts?$select=contactid&$skiptoken=decoy`;
      const rows = [...value.slice(0, -1), { ...(value.at(-1) as object), new_extra: { '@odata.nextLink': decoy } }];
      return new Response(JSON.stringify({ ...links, value: rows }), { status: response.status, headers: response.headers });
    };
    const { crm } = adapterFor(sim, { ...SEQUENTIAL, fetch });
    const result = await pull(crm, contact, FIELDS, null);
    expect(result.pages.map((p) => p.upserts.length)).toEqual([100, 100, 50]);
    expect(new Set(result.upserts.map((r) => r.id)).size).toBe(250);
    expect(mode(result.checkpoint)).toBe('delta');
    // The early guess went out and was dropped; each real page was asked for once.
    expect(sent.filter((u) => u.includes('skiptoken=decoy')).length).toBeGreaterThan(0);
    expect(sent.filter((u) => u.includes('/contacts?') && !u.includes('decoy'))).toHaveLength(3);
  });

  it('reads at most one page ahead of a caller that is busy with a page', async () => {
    const sim = msw.simulate({ contacts: 600 });
    const { crm } = adapterFor(sim, SEQUENTIAL);
    const pages = crm.pullChanges(contact, { checkpoint: null, fields: FIELDS })[Symbol.asyncIterator]();
    const first = await pages.next();
    expect(first.value?.upserts).toHaveLength(100);
    // The caller holds page 1 (a slow commit): the reader may fetch page 2, and nothing beyond it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const reads = () => apiRequests(sim).filter((r) => r.url.includes('/contacts?'));
    expect(reads()).toHaveLength(2);
    await pages.next();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(reads()).toHaveLength(3);
    let rows = 200;
    for (let page = await pages.next(); !page.done; page = await pages.next()) rows += page.value.upserts.length;
    expect(rows).toBe(600);
    expect(reads()).toHaveLength(6);
  });

  it('asks for each page once when read-ahead is off', async () => {
    const sim = msw.simulate({ contacts: 250 });
    const { crm } = adapterFor(sim, { ...SEQUENTIAL, readAhead: false });
    const result = await pull(crm, contact, FIELDS, null);
    expect(result.upserts).toHaveLength(250);
    expect(apiRequests(sim).filter((r) => r.url.includes('/contacts?'))).toHaveLength(3);
  });

  it('quarantines a row with a value of the wrong type and keeps the rest of the page', async () => {
    const sim = msw.simulate({ contacts: 100, faults: { rules: [{ kind: 'wrong-type', rate: 1, path: '/contacts', limit: 1 }] } });
    const { crm } = adapterFor(sim, SEQUENTIAL);
    const result = await pull(crm, contact, [...FIELDS, 'new_synctomkto', 'new_riskscore'], null);
    expect(result.rejected).toHaveLength(1);
    expect(result.rejected[0]?.reason).toMatch(/new_synctomkto|new_riskscore|contactid|firstname|lastname|jobtitle|parentcustomerid/);
    expect(result.upserts).toHaveLength(99);
  });

  it('stops promptly when aborted', async () => {
    const sim = msw.simulate({ contacts: 250 });
    const { crm } = adapterFor(sim);
    const controller = new AbortController();
    const error = await failure(
      (async () => {
        for await (const _page of crm.pullChanges(contact, { checkpoint: null, fields: FIELDS, signal: controller.signal })) controller.abort();
      })(),
    );
    expect(error.code).toBe('ABORTED');
  });
});

describe('watermark (table without change tracking)', () => {
  it('reads by modifiedon with tie-safe overlap, and runs a full read every Nth pull to find deletes', async () => {
    const clock = createClock({ manual: true, start: '2025-06-01T12:00:00Z' });
    const sim = msw.simulate({ contacts: 120, clock });
    sim.control.setChangeTracking('contact', false);
    const { crm } = adapterFor(sim, { reconcileEvery: 3, watermarkOverlapMs: 1_000 });

    const first = await pull(crm, contact, FIELDS, null);
    expect(first.upserts).toHaveLength(120);
    expect(first.pages.at(-1)?.snapshot?.complete).toBe(true);
    expect(mode(first.checkpoint)).toBe('watermark');
    const firstUrl = apiRequests(sim).find((r) => r.url.includes('/contacts?'))!.url;
    expect(firstUrl).toContain('$orderby=modifiedon asc,contactid asc');
    expect(firstUrl).not.toContain('$filter');

    // Two changes in the same second (the clock stands still).
    const [a, b, c] = [0, 1, 2].map((i) => sim.dataset.idOf('contact', i)) as [string, string, string];
    sim.control.updateRow('contact', a, { jobtitle: 'A' });
    sim.control.updateRow('contact', b, { jobtitle: 'B' });
    sim.control.clearRequestLog();
    const second = await pull(crm, contact, FIELDS, first.checkpoint);
    expect(second.upserts.map((r) => r.id).sort()).toEqual([a, b].sort());
    expect(second.pages[0]?.snapshot).toBeNull();
    expect(apiRequests(sim)[0]?.url).toMatch(/\$filter=modifiedon ge \d{4}-.*&\$orderby=modifiedon asc,contactid asc$/);
    expect(JSON.parse(second.checkpoint!)).toMatchObject({ modifiedon: '2025-06-01T12:00:00Z', pulls: 1, next: null, snapshot: null });

    // A third change in that same second: only it comes back, the two already seen do not.
    sim.control.updateRow('contact', c, { jobtitle: 'C' });
    sim.control.clearRequestLog();
    const third = await pull(crm, contact, FIELDS, second.checkpoint);
    expect(third.upserts.map((r) => r.id)).toEqual([c]);
    // The read starts one overlap (1 s) before the watermark.
    expect(apiRequests(sim)[0]?.url).toContain('$filter=modifiedon ge 2025-06-01T11:59:59Z');

    // A row changed again at the same second with a new version is not dropped.
    sim.control.updateRow('contact', a, { jobtitle: 'A2' });
    const fourth = await pull(crm, contact, FIELDS, third.checkpoint);
    expect(fourth.upserts.map((r) => [r.id, r.fields.jobtitle])).toEqual([[a, 'A2']]);

    // Deletes are invisible to a watermark; the 3rd incremental pull is followed by a full read.
    sim.control.deleteRow('contact', sim.dataset.idOf('contact', 50));
    clock.advance(5_000);
    const fifth = await pull(crm, contact, FIELDS, fourth.checkpoint);
    expect(fifth.pages).toHaveLength(2);
    expect(fifth.pages.every((p) => p.snapshot !== null)).toBe(true);
    expect(fifth.pages.at(-1)?.snapshot?.complete).toBe(true);
    expect(fifth.upserts).toHaveLength(119);
    expect(fifth.upserts.some((r) => r.id === sim.dataset.idOf('contact', 50))).toBe(false);

    // Then incremental again.
    const sixth = await pull(crm, contact, FIELDS, fifth.checkpoint);
    expect(sixth.pages).toHaveLength(1);
    expect(sixth.pages[0]).toMatchObject({ snapshot: null, upserts: [] });
  });

  it('starts a full read over as a new snapshot when its paging link is refused', async () => {
    const sim = msw.simulate({ contacts: 250 });
    sim.control.setChangeTracking('contact', false);
    let refuse = false;
    // The service refuses the stored paging link once (a stale paging cookie).
    const fetch: typeof globalThis.fetch = async (input, init) => {
      if (refuse && String(input).includes('skiptoken')) {
        refuse = false;
        return new Response(JSON.stringify({ error: { code: '0x80040203', message: 'Invalid paging cookie' } }), { status: 400 });
      }
      return globalThis.fetch(input, init);
    };
    const { crm, events } = adapterFor(sim, { fetch, readAhead: false });
    const first = (await crm.pullChanges(contact, { checkpoint: null, fields: FIELDS })[Symbol.asyncIterator]().next()).value as ChangePage;
    expect(first.snapshot?.complete).toBe(false);
    refuse = true;
    const rest = await pull(crm, contact, FIELDS, first.checkpoint);
    expect(events.some((e) => e.type === 'checkpoint-reset')).toBe(true);
    expect(rest.upserts).toHaveLength(250);
    expect(rest.pages.at(-1)?.snapshot?.complete).toBe(true);
    // Rows seen only by the abandoned read (and deleted meanwhile) must not pass as seen by this one.
    expect(new Set(rest.pages.map((p) => p.snapshot?.id)).size).toBe(1);
    expect(rest.pages[0]?.snapshot?.id).not.toBe(first.snapshot?.id);
  });

  it('switches to change tracking with one snapshot when the table starts tracking', async () => {
    const sim = msw.simulate({ contacts: 30 });
    sim.control.setChangeTracking('contact', false);
    const { crm } = adapterFor(sim, { metadataMaxAgeMs: 0 });
    const before = await pull(crm, contact, FIELDS, null);
    expect(mode(before.checkpoint)).toBe('watermark');
    sim.control.setChangeTracking('contact', true);
    const after = await pull(crm, contact, FIELDS, before.checkpoint);
    expect(after.pages.at(-1)?.snapshot?.complete).toBe(true);
    expect(mode(after.checkpoint)).toBe('delta');
  });
});
