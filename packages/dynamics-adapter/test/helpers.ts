import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createEntityRegistry, isSyncError } from '@crm-sync/core';
import type { ChangePage, CrmAdapter, EntityDefinition, SyncError } from '@crm-sync/core';
import { createSimulator } from '@crm-sync/dynamics-simulator';
import type { Simulator, SimulatorOptions } from '@crm-sync/dynamics-simulator';
import { createDynamicsAdapter } from '../src/index.js';
import type { AdapterEvent, DynamicsAdapterOptions } from '../src/index.js';

export const registry = createEntityRegistry();
export const contact: EntityDefinition = registry.get('contact');
export const lead: EntityDefinition = registry.get('lead');
export const account: EntityDefinition = registry.get('account');

/** One MSW server per test file; each test swaps in its own simulator's handlers. */
export function useMsw() {
  const server = setupServer();
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterEach(() => server.resetHandlers());
  afterAll(() => server.close());
  return {
    server,
    simulate(options: SimulatorOptions = {}): Simulator {
      const sim = createSimulator({ contacts: 250, ...options });
      server.resetHandlers(...sim.handlers);
      return sim;
    },
  };
}

export interface Harness {
  crm: CrmAdapter;
  events: AdapterEvent[];
}

/** The adapter against a simulator, as the sync user with its static token unless `auth` is given. */
export function adapterFor(sim: Simulator, options: Partial<DynamicsAdapterOptions> = {}): Harness {
  const events: AdapterEvent[] = [];
  const crm = createDynamicsAdapter({
    environmentUrl: sim.url,
    auth: { kind: 'static-token', token: sim.tokens.sync },
    pageSize: 100,
    retry: { baseDelayMs: 10, maxDelayMs: 50 },
    onEvent: (event) => events.push(event),
    ...options,
  });
  return { crm, events };
}

/** Runs a pull to its end; returns the pages (and the last checkpoint). */
export async function pull(crm: CrmAdapter, entity: EntityDefinition, fields: readonly string[], checkpoint: string | null, signal?: AbortSignal) {
  const pages: ChangePage[] = [];
  for await (const page of crm.pullChanges(entity, { checkpoint, fields, ...(signal ? { signal } : {}) })) pages.push(page);
  const last = pages.at(-1);
  return {
    pages,
    checkpoint: last?.checkpoint ?? checkpoint,
    upserts: pages.flatMap((p) => p.upserts),
    deletes: pages.flatMap((p) => p.deletes),
    rejected: pages.flatMap((p) => p.rejected),
  };
}

export async function failure(promise: Promise<unknown>): Promise<SyncError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isSyncError(error)) throw new Error(`expected a SyncError, got ${String(error)}`, { cause: error });
  return error;
}

/** Web API requests the simulator saw (control API and token endpoint excluded). */
export function apiRequests(sim: Simulator): Array<{ method: string; url: string; status: number }> {
  return sim.control.requestLog().map(({ method, url, status }) => ({ method, url: decodeURIComponent(url), status }));
}

/** The first `count` pages of a pull from `checkpoint`, then the pull is dropped (a crash after them). */
export async function pagesThenCrash(crm: CrmAdapter, checkpoint: string | null, count: number, fields: readonly string[]): Promise<ChangePage[]> {
  const pages: ChangePage[] = [];
  const iterator = crm.pullChanges(contact, { checkpoint, fields })[Symbol.asyncIterator]();
  while (pages.length < count) {
    const next = await iterator.next();
    if (next.done) break;
    pages.push(next.value);
  }
  await iterator.return?.();
  return pages;
}

/** Real fetch that counts the requests in flight (`peak`) and hands each request's headers to `seen`. */
export function countingFetch(seen?: (headers: Headers) => void): { fetch: typeof fetch; flight: { now: number; peak: number } } {
  const flight = { now: 0, peak: 0 };
  return {
    flight,
    fetch: async (input, init) => {
      seen?.(new Headers(init?.headers));
      flight.now += 1;
      flight.peak = Math.max(flight.peak, flight.now);
      try {
        return await fetch(input, init);
      } finally {
        flight.now -= 1;
      }
    },
  };
}
