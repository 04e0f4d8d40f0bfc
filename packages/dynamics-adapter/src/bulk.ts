import type { HttpClient } from './http.js';
import { parseObject } from './odata/parse.js';

/** Dataverse's bulk operation messages on standard tables (Microsoft Learn, "Use bulk operation messages"). */
export type BulkMessage = 'CreateMultiple' | 'UpdateMultiple';

export interface BulkSupport {
  /**
   * Whether a table has this message, asked once and kept for `maxAgeMs` (tables gain or lose the
   * messages rarely). An answer that cannot be had counts as "no": `$batch` is always correct.
   */
  supports(table: string, message: BulkMessage): Promise<boolean>;
}

const odataString = (value: string): string => `'${value.replace(/'/g, "''")}'`;

export function createBulkSupport(http: HttpClient, maxAgeMs: number, now: () => number = Date.now): BulkSupport {
  const known = new Map<string, { at: number; answer: Promise<boolean> }>();
  const ask = async (table: string, message: BulkMessage): Promise<boolean> => {
    // GET /api/data/v9.2/sdkmessagefilters?$select=sdkmessagefilterid
    //   &$filter=sdkmessageid/name eq 'CreateMultiple' and primaryobjecttypecode eq 'contact'
    // (the availability query Learn documents): a row when the table has the message, none otherwise.
    const filter = `sdkmessageid/name eq ${odataString(message)} and primaryobjecttypecode eq ${odataString(table)}`;
    try {
      const response = await http.send({ method: 'GET', url: `sdkmessagefilters?$select=sdkmessagefilterid&$filter=${encodeURIComponent(filter)}` });
      const value = parseObject(response.text, 'sdkmessagefilters').value;
      return Array.isArray(value) && value.length > 0;
    } catch {
      // No read access to sdkmessagefilter, or an answer that cannot be read: writes go through $batch.
      return false;
    }
  };
  return {
    supports: (table, message) => {
      const key = `${table}|${message}`;
      const cached = known.get(key);
      if (cached && now() - cached.at < maxAgeMs) return cached.answer;
      const answer = ask(table, message);
      known.set(key, { at: now(), answer });
      return answer;
    },
  };
}

/**
 * Records held by bulk requests in flight, per adapter. Two bulk requests writing the same record
 * at once deadlock on the service (SQL error 1205, Learn's troubleshooting of bulk messages), so a
 * request waits until no other one in flight holds any of its records.
 */
export function createRecordLocks() {
  const held = new Map<string, Promise<void>>();
  return {
    /** Runs `work` once none of `keys` is held by another, holding them meanwhile. */
    async with<T>(keys: readonly string[], work: () => Promise<T>): Promise<T> {
      for (;;) {
        const busy = keys.map((key) => held.get(key)).filter((p): p is Promise<void> => p !== undefined);
        if (busy.length === 0) break;
        await Promise.all(busy);
      }
      let release!: () => void;
      const done = new Promise<void>((resolve) => (release = resolve));
      for (const key of keys) held.set(key, done);
      try {
        return await work();
      } finally {
        for (const key of keys) held.delete(key);
        release();
      }
    },
    /** Records held now (tests). */
    size: () => held.size,
  };
}

/** Splits items into chunks of at most `size` in which no key appears twice (a key's later items go to later chunks). */
export function chunksOfDistinct<T>(items: readonly T[], size: number, keyOf: (item: T) => string): T[][] {
  const chunks: Array<{ items: T[]; keys: Set<string> }> = [];
  for (const item of items) {
    const key = keyOf(item);
    let chunk = chunks.find((c) => c.items.length < size && !c.keys.has(key));
    if (!chunk) {
      chunk = { items: [], keys: new Set() };
      chunks.push(chunk);
    }
    chunk.items.push(item);
    chunk.keys.add(key);
  }
  return chunks.map((c) => c.items);
}
