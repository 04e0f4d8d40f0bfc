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
  /** How long the service took to answer. */
  durationMs: number;
}

/** A stored or returned link that the service refused with a 4xx (expired token, stale paging cookie). */
export interface RejectedLink {
  kind: 'link-rejected';
  error: SyncError;
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
}

export function createPageReader(input: PageReaderInput) {
  const { http, emit } = input;

  const fetchPage = async (url: string, tolerant: boolean, read: PageRead, signal: AbortSignal): Promise<FetchedPage | RejectedLink> => {
    for (let attempt = 1; ; attempt += 1) {
      let text: string;
      let durationMs: number;
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
        durationMs = response.durationMs;
      } catch (error) {
        if (signal.aborted && !read.signal?.aborted) throw abortError(error);
        throw error;
      }
      try {
        const page = parsePage(text, read.what);
        const resolve = (link: string | null, key: string): string | null => {
          if (link === null) return null;
          const resolved = http.resolve(link);
          if (resolved === null) throw new SyncError('CRM_RESPONSE_INVALID', `[dynamics-adapter] ${read.what} returned an ${key} outside the environment`);
          return resolved;
        };
        const key = read.primaryKey;
        if (key !== undefined && attempt < MAX_INVALID_BODIES && !page.rows.every((row) => hasReadableKey(row, key))) {
          emit({ type: 'retry', method: 'GET', path: new URL(url, http.root).pathname, reason: 'keyless-row', status: 200, attempt, waitMs: 0 });
          continue;
        }
        return { kind: 'page', rows: page.rows, nextLink: resolve(page.nextLink, '@odata.nextLink'), deltaLink: resolve(page.deltaLink, '@odata.deltaLink'), durationMs };
      } catch (error) {
        if (!isSyncError(error, 'CRM_RESPONSE_INVALID') || attempt >= MAX_INVALID_BODIES) throw error;
        emit({ type: 'retry', method: 'GET', path: new URL(url, http.root).pathname, reason: 'invalid-response', status: 200, attempt, waitMs: 0 });
      }
    }
  };

  /**
   * Pages from `read.url` on, following nextLinks. With read-ahead the next page is requested
   * before the current one is handed out, so the service works while the caller commits.
   */
  async function* pages(read: PageRead): AsyncGenerator<FetchedPage | RejectedLink> {
    const controller = new AbortController();
    const signal = read.signal ? AbortSignal.any([read.signal, controller.signal]) : controller.signal;
    const start = (url: string, tolerant: boolean) => {
      const promise = fetchPage(url, tolerant, read, signal);
      // Rejections surface when awaited; this only keeps an abandoned read-ahead quiet.
      promise.catch(() => {});
      return promise;
    };
    let pending: Promise<FetchedPage | RejectedLink> | null = start(read.url, read.stored);
    try {
      while (pending) {
        if (read.signal?.aborted) throw abortError(read.signal.reason);
        const result: FetchedPage | RejectedLink = await pending;
        pending = null;
        // Links the service just returned may still be refused (a stale paging cookie): tolerant.
        if (result.kind === 'page' && result.nextLink && input.readAhead) pending = start(result.nextLink, true);
        yield result;
        if (result.kind !== 'page') return;
        if (!pending && result.nextLink) pending = start(result.nextLink, true);
      }
    } finally {
      controller.abort();
    }
  }

  return { pages };
}
