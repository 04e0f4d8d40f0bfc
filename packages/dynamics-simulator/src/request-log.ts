import type { FaultKind } from './faults.js';

export interface RequestLogEntry {
  seq: number;
  /** Simulated time (ISO). */
  time: string;
  method: string;
  url: string;
  status: number;
  /** Calling systemuserid, null when unauthenticated. */
  userId: string | null;
  /** Injected fault, if any; 'limit' when service protection rejected the request. */
  fault: FaultKind | 'limit' | null;
  /** Simulated execution time charged to the user. */
  executionMs: number;
  /** Rows returned. */
  rows: number;
  /** The web server (0-based) that answered (see `limits.webServers`). */
  server: number;
}

export interface RequestLog {
  add(entry: Omit<RequestLogEntry, 'seq'>): void;
  entries(options?: { since?: number; limit?: number }): RequestLogEntry[];
  clear(): void;
}

/** A bounded log: the oldest entries are dropped beyond `capacity`. */
export function createRequestLog(capacity = 10_000): RequestLog {
  let entries: RequestLogEntry[] = [];
  let seq = 0;
  return {
    add: (entry) => {
      seq += 1;
      entries.push({ seq, ...entry });
      if (entries.length > capacity * 1.25) entries = entries.slice(entries.length - capacity);
    },
    entries: (options = {}) => {
      const bounded = entries.length > capacity ? entries.slice(entries.length - capacity) : entries;
      const since = options.since ?? 0;
      const selected = bounded.filter((entry) => entry.seq > since);
      return options.limit === undefined ? selected : selected.slice(-options.limit);
    },
    clear: () => {
      entries = [];
    },
  };
}
