import { isSyncError, SyncError } from '@crm-sync/core';
import type { EventSink } from './events.js';
import { abortError } from './http.js';
import type { HttpClient } from './http.js';
import { parseErrorBody } from './odata/error-body.js';
import { hasReadableKey, parsePage } from './odata/parse.js';

/** A page as read, with its links already checked to point at this environment. */
export interface FetchedPage {
  kind: 'page';
  rows: unknown[];
  nextLink: string | null;
  deltaLink: string | null;
}

/** A stored or returned link that the service refused with a 4xx (expired token, stale paging cookie). */
export interface RejectedLink {
  kind: 'link-rejected';
  error: SyncError;
}

/** A page being read; `next` is the request made early for the nextLink its body ends with. */
interface PageRequest {
  url: string;
  promise: Promise<FetchedPage | RejectedLink>;
  /** The caller is waiting for this page: only then may its body start the next request early. */
  awaited: boolean;
  next: PageRequest | null;
  /** Drops this request and any made from its body. */
  cancel: () => void;
}

/** How far from a body's end its nextLink is looked for before parsing (paging cookies make long links). */
const LINK_TAIL = 16_384;

/**
 * The `@odata.nextLink` near the end of a collection body, read without parsing the body; null if
 * none is found there. Only a hint: the parsed body's own link is checked against it.
 */
export function peekNextLink(text: string): string | null {
  const tail = text.length > LINK_TAIL ? text.slice(-LINK_TAIL) : text;
  const at = tail.lastIndexOf('"@odata.nextLink"');
  if (at < 0) return null;
  const literal = /^"@odata\.nextLink"\s*:\s*("(?:[^"\\]|\\.)*")/.exec(tail.slice(at))?.[1];
  if (literal === undefined) return null;
  try {
    return JSON.parse(literal) as string;
  } catch {
    return null;
  }
}

/** The query of a link split into its raw parts, and the index of its `$select` (-1 without one). */
function selectPart(link: string): { url: URL; parts: string[]; at: number } {
  const url = new URL(link);
  const parts = url.search.replace(/^\?/, '').split('&').filter((part) => part !== '');
  return { url, parts, at: parts.findIndex((part) => /^(\$|%24)select=/i.test(part)) };
}

const join = (url: URL, parts: readonly string[]): string => `${url.origin}${url.pathname}${parts.length > 0 ? `?${parts.join('&')}` : ''}`;

/** A link with `select` as its `$select` in place of its own (the rest stays as issued). */
export function withSelect(link: string, select: readonly string[]): string {
  const { url, parts, at } = selectPart(link);
  return join(url, [`$select=${select.join(',')}`, ...parts.filter((_, i) => i !== at)]);
}

/**
 * A link whose `$select` lacks columns of `select` with them put back: the service may return links
 * narrower than the query that made them, and a column it is not asked for would never come again.
 * A link without `$select` reads every column and stays as it is.
 */
export function restoreSelect(link: string, select: readonly string[]): string {
  const { url, parts, at } = selectPart(link);
  if (at < 0) return link;
  const raw = parts[at]!;
  const has = decodeURIComponent(raw.slice(raw.indexOf('=') + 1)).split(',').map((column) => column.trim());
  const missing = select.filter((column) => !has.includes(column));
  if (missing.length === 0) return link;
  parts[at] = `$select=${[...has, ...missing].join(',')}`;
  return join(url, parts);
}

/** Retrying a page whose body was not readable JSON: a truncated body is usually a transient fault. */
const MAX_INVALID_BODIES = 3;

/** 4xx that retrying cannot fix and that auth or throttling do not explain. */
export function isLinkRejection(status: number): boolean {
  return status >= 400 && status < 500 && status !== 401 && status !== 403 && status !== 429;
}

export interface PageReaderInput {
  http: HttpClient;
  emit: EventSink;
  readAhead: boolean;
}

export interface PageRead {
  /** First URL: one the adapter built (a 4xx throws) or a stored link (a 4xx is reported). */
  url: string;
  stored: boolean;
  headers: Record<string, string>;
  signal?: AbortSignal | undefined;
  what: string;
  /**
   * The table's primary key: a page with a row that has no readable key (neither this key nor a
   * delete's id) is read again, like a cut-off body; the last attempt's page is returned as it is.
   */
  primaryKey?: string;
  /** The columns every link followed or returned must select: a narrower `$select` gets them back (restoreSelect). */
  select?: readonly string[];
}

export function createPageReader(input: PageReaderInput) {
  const { http, emit } = input;

  const fetchPage = async (
    url: string,
    tolerant: boolean,
    read: PageRead,
    signal: AbortSignal,
    onBody?: (text: string) => void,
  ): Promise<FetchedPage | RejectedLink> => {
    for (let attempt = 1; ; attempt += 1) {
      let text: string;
      try {
        const response = await http.send({ method: 'GET', url, headers: read.headers, signal, ...(tolerant ? { pass: isLinkRejection } : {}) });
        if (response.status >= 400) {
          return {
            kind: 'link-rejected',
            error: new SyncError('CHECKPOINT_INVALID', `[dynamics-adapter] ${read.what}: the service refused a stored link with ${response.status}`, {
              details: { status: response.status, crmMessage: http.redact(parseErrorBody(response.text)?.message ?? '') },
            }),
          };
        }
        text = response.text;
      } catch (error) {
        if (signal.aborted && !read.signal?.aborted) throw abortError(error);
        throw error;
      }
      onBody?.(text);
      try {
        const page = parsePage(text, read.what);
        const resolve = (link: string | null, key: string): string | null => {
          if (link === null) return null;
          const resolved = http.resolve(link);
          if (resolved === null) throw new SyncError('CRM_RESPONSE_INVALID', `[dynamics-adapter] ${read.what} returned an ${key} outside the environment`);
          return read.select ? restoreSelect(resolved, read.select) : resolved;
        };
        const key = read.primaryKey;
        if (key !== undefined && attempt < MAX_INVALID_BODIES && !page.rows.every((row) => hasReadableKey(row, key))) {
          emit({ type: 'retry', method: 'GET', path: new URL(url, http.root).pathname, reason: 'keyless-row', status: 200, attempt, waitMs: 0 });
          continue;
        }
        return { kind: 'page', rows: page.rows, nextLink: resolve(page.nextLink, '@odata.nextLink'), deltaLink: resolve(page.deltaLink, '@odata.deltaLink') };
      } catch (error) {
        if (!isSyncError(error, 'CRM_RESPONSE_INVALID') || attempt >= MAX_INVALID_BODIES) throw error;
        emit({ type: 'retry', method: 'GET', path: new URL(url, http.root).pathname, reason: 'invalid-response', status: 200, attempt, waitMs: 0 });
      }
    }
  };

  /**
   * Pages from `read.url` on, following nextLinks. With read-ahead the next page is requested as
   * soon as a body's nextLink can be read from its end, before the body is parsed and long before
   * the caller commits it, so the service works meanwhile; never more than one page ahead of the
   * caller. The parsed nextLink decides: a request made for any other link is dropped.
   */
  async function* pages(read: PageRead): AsyncGenerator<FetchedPage | RejectedLink> {
    const controller = new AbortController();
    const signal = read.signal ? AbortSignal.any([read.signal, controller.signal]) : controller.signal;
    const start = (url: string, tolerant: boolean): PageRequest => {
      const own = new AbortController();
      const request: Omit<PageRequest, 'promise'> = {
        url,
        awaited: false,
        next: null,
        cancel: () => {
          own.abort();
          request.next?.cancel();
        },
      };
      // Links the service just returned may still be refused (a stale paging cookie): tolerant.
      // A page read ahead does not reach further itself: at most one page waits beyond the caller's.
      const onBody = (text: string) => {
        if (!request.awaited) return;
        const link = peekNextLink(text);
        const resolved = link === null ? null : http.resolve(link);
        const next = resolved !== null && read.select ? restoreSelect(resolved, read.select) : resolved;
        if (next === null || request.next?.url === next) return;
        request.next?.cancel();
        request.next = start(next, true);
      };
      const promise = fetchPage(url, tolerant, read, AbortSignal.any([signal, own.signal]), input.readAhead ? onBody : undefined);
      // Rejections surface when awaited; this only keeps an abandoned read-ahead quiet.
      promise.catch(() => {});
      return Object.assign(request, { promise });
    };
    let current: PageRequest | null = start(read.url, read.stored);
    try {
      while (current) {
        if (read.signal?.aborted) throw abortError(read.signal.reason);
        current.awaited = true;
        const result: FetchedPage | RejectedLink = await current.promise;
        const ahead: PageRequest | null = current.next;
        let next: PageRequest | null = null;
        if (result.kind === 'page' && result.nextLink !== null && ahead?.url === result.nextLink) next = ahead;
        else {
          ahead?.cancel();
          if (result.kind === 'page' && result.nextLink !== null && input.readAhead) next = start(result.nextLink, true);
        }
        yield result;
        if (result.kind !== 'page') return;
        if (!next && result.nextLink) next = start(result.nextLink, true);
        current = next;
      }
    } finally {
      controller.abort();
    }
  }

  return { pages };
}
