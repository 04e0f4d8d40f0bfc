import { describe, expect, it } from 'vitest';
import { MIN_PART_KEYS } from '../src/ranges.js';
import { adapterFor, apiRequests, contact, pagesThenCrash, pull, useMsw } from './helpers.js';

const msw = useMsw();
const FIELDS = ['firstname', 'lastname', 'jobtitle'];
const CONTACTS = 12_000;
/** Default range size (5,000 keys a spine page): 12,000 contacts make ranges of 5,000, 5,000 and 2,000 keys. */
const OPTIONS = { pageSize: 1000, initialLoad: { parallel: true as const } };

/** The `$top` of each range request (a range, or a part of one, read by key bounds). */
function rangeTops(urls: string[]): number[] {
  return urls.filter((u) => u.includes('/contacts?') && /\$filter=contactid (ge|le) /.test(u)).map((u) => Number(/\$top=(\d+)/.exec(u)?.[1]));
}

describe('parallel initial load: ranges cut in parts to fill the pool', () => {
  it('cuts a range in parts while slots would stay idle, never below the smallest part, and yields every row once', async () => {
    const sim = msw.simulate({ contacts: CONTACTS });
    const { crm } = adapterFor(sim, OPTIONS);
    const result = await pull(crm, contact, FIELDS, null);
    const ids = result.upserts.map((r) => r.id);
    expect(ids).toHaveLength(CONTACTS);
    expect(new Set(ids).size).toBe(CONTACTS);
    expect(new Set(result.pages.map((p) => p.snapshot?.id)).size).toBe(1);
    expect(result.pages.map((p) => p.snapshot?.complete)).toEqual(result.pages.map((_, i) => i === result.pages.length - 1));

    const urls = apiRequests(sim).map((r) => r.url);
    const spine = urls.filter((u) => u.includes('/contacts?') && u.includes('$select=contactid') && !u.includes('$filter'));
    expect(spine).toHaveLength(3);
    const tops = rangeTops(urls);
    // More range requests than spine pages: the first range at least was cut while the pool waited for the spine.
    expect(tops.length).toBeGreaterThan(3);
    expect(Math.min(...tops)).toBeGreaterThanOrEqual(MIN_PART_KEYS);
    expect(tops.reduce((sum, top) => sum + top, 0)).toBe(CONTACTS);
  });

  it('resumes after a crash at any page of a load read in parts, with every row, in the same snapshot', async () => {
    const sim = msw.simulate({ contacts: CONTACTS });
    const all = new Set(Array.from({ length: CONTACTS }, (_, i) => sim.dataset.idOf('contact', i)));
    for (const crashAfter of [1, 2, 4, 7, 10]) {
      const { crm } = adapterFor(sim, OPTIONS);
      const before = await pagesThenCrash(crm, null, crashAfter, FIELDS);
      expect(before).toHaveLength(crashAfter);
      const rest = await pull(crm, contact, FIELDS, before.at(-1)!.checkpoint);
      const pages = [...before, ...rest.pages];
      expect(new Set(pages.map((p) => p.snapshot?.id)).size).toBe(1);
      expect(pages.filter((p) => p.snapshot?.complete)).toHaveLength(1);
      expect(pages.at(-1)?.snapshot?.complete).toBe(true);
      expect(new Set(pages.flatMap((p) => p.upserts.map((r) => r.id)))).toEqual(all);
    }
  });
});
