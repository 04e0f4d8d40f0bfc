import { convert } from './convert.js';
import type { Converted, Plan } from './convert.js';
import type { HttpClient } from './http.js';
import type { createPageReader } from './pages.js';
import { collectionUrl, guid, isGuid, LOOKUP_ANNOTATION, prefer } from './odata/query.js';

/** One key range of a parallel initial load: the keys of one spine page, in the service's order. */
export interface KeyRange {
  seq: number;
  /** The link that read this range's spine page; null for the spine's first request from the table's start. */
  src: string | null;
  ids: readonly string[];
  /** Bounds of the filter; null is open (the range starts the table or ends it). */
  lo: string | null;
  hi: string | null;
}

/** Keys per `<key> eq … or …` request when rows are fetched by id: about 6 KB of URL. */
const IDS_PER_REQUEST = 100;

export interface RangeReaderInput {
  http: HttpClient;
  reader: ReturnType<typeof createPageReader>;
  pageSize: number;
}

/** The primary key of a raw row, lower case, or null. */
export function keyOf(row: unknown, primaryKey: string): string | null {
  const value = (row as Record<string, unknown> | null)?.[primaryKey];
  return typeof value === 'string' && isGuid(value) ? value.toLowerCase() : null;
}

export function createRangeReader(input: RangeReaderInput) {
  const { http, reader, pageSize } = input;
  // No odata.maxpagesize: it would make the service ignore $top.
  const headers = { Prefer: prefer({ annotations: [LOOKUP_ANNOTATION] }) };

  const fetchAll = async (plan: Plan, url: string, signal: AbortSignal): Promise<unknown[]> => {
    const rows: unknown[] = [];
    for await (const page of reader.pages({ url, stored: false, headers, signal, what: `GET ${plan.meta.entitySet} (range)`, primaryKey: plan.meta.primaryKey, select: plan.select })) {
      // Only a nextLink the service just returned can be refused here (a stale paging cookie).
      if (page.kind === 'link-rejected') throw page.error;
      rows.push(...page.rows);
    }
    return rows;
  };

  /**
   * Every row of a range, as pages of at most `pageSize` rows. The filter reads the range by key
   * with `$top` = its key count; keys of the spine page that it did not return (the service's
   * filter disagreeing with its order, or rows pushed out by new ones) are then read by id, and a
   * key still missing was deleted since (the following delta reports it).
   */
  async function read(plan: Plan, range: KeyRange, signal: AbortSignal): Promise<Converted[]> {
    const pk = plan.meta.primaryKey;
    const bounds = [range.lo === null ? null : `${pk} ge ${guid(range.lo)}`, range.hi === null ? null : `${pk} le ${guid(range.hi)}`];
    const filter = bounds.filter((b) => b !== null).join(' and ');
    // GET <set>?$select=...&$filter=<key> ge <first> and <key> le <last>&$orderby=<key> asc&$top=<keys>
    const url = collectionUrl(http.root, plan.meta.entitySet, {
      select: plan.select,
      ...(filter ? { filter } : {}),
      orderby: [`${pk} asc`],
      top: range.ids.length,
    });
    const rows = await fetchAll(plan, url, signal);
    const seen = new Set(rows.map((row) => keyOf(row, pk)));
    const missing = range.ids.filter((id) => !seen.has(id));
    for (let start = 0; start < missing.length; start += IDS_PER_REQUEST) {
      const chunk = missing.slice(start, start + IDS_PER_REQUEST);
      // GET <set>?$select=...&$filter=<key> eq <id> or <key> eq <id> ...
      const byId = collectionUrl(http.root, plan.meta.entitySet, { select: plan.select, filter: chunk.map((id) => `${pk} eq ${guid(id)}`).join(' or ') });
      rows.push(...(await fetchAll(plan, byId, signal)));
    }
    const pages: Converted[] = [];
    for (let start = 0; start < rows.length; start += pageSize) pages.push(convert(plan, rows.slice(start, start + pageSize)));
    return pages;
  }

  return { read };
}
