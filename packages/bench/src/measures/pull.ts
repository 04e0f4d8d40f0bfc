/**
 * The three ways of reading the same entity set from the same simulator that the other figures
 * stand beside: the adapter alone (no engine, no store), dynamics-web-api, and bare HTTP GETs
 * (the simulator's own page-serving rate, with as little client work as possible).
 */
import { DynamicsWebApi } from 'dynamics-web-api';
import { createEntityRegistry } from '@crm-sync/core';
import type { DynamicsAdapterOptions } from '@crm-sync/dynamics-adapter';
import type { BenchEntity } from '../lib/wiring.js';
import { FIELDS, FILTER_FIELD, simulatorAdapter } from '../lib/wiring.js';

const PAGE_SIZE = 5000;
const LOOKUPS = new Set<string>(['parentcustomerid']);
const PRIMARY_KEYS: Record<BenchEntity, string> = { account: 'accountid', contact: 'contactid', lead: 'leadid' };
const ENTITY_SETS: Record<BenchEntity, string> = { account: 'accounts', contact: 'contacts', lead: 'leads' };
const PREFER = `odata.track-changes, odata.maxpagesize=${PAGE_SIZE}, odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"`;

/** The columns the adapter selects for our fields (lookups as `_x_value`, plus its bookkeeping columns). */
export function selectOf(entity: BenchEntity): string[] {
  const fields = [...FIELDS[entity], FILTER_FIELD].map((f) => (LOOKUPS.has(f) ? `_${f}_value` : f));
  return [PRIMARY_KEYS[entity], ...fields, 'modifiedon', '_modifiedby_value'];
}

export interface PullOutcome {
  rows: number;
  ms: number;
  /** Set when the client gave up (dynamics-web-api does not retry a 429). */
  error?: string;
}

async function timedPull(work: (count: (n: number) => void) => Promise<void>): Promise<PullOutcome> {
  let rows = 0;
  const started = performance.now();
  try {
    await work((n) => (rows += n));
  } catch (error) {
    const status = (error as { status?: number }).status;
    const message = String((error as Error).message ?? error).slice(0, 90);
    return { rows, ms: performance.now() - started, error: status ? `HTTP ${status}: ${message}` : message };
  }
  return { rows, ms: performance.now() - started };
}

/** A full initial read with the adapter alone: what the engine gets before it does anything. */
export function adapterPull(url: string, entities: readonly BenchEntity[], options: Partial<DynamicsAdapterOptions> = {}): Promise<PullOutcome> {
  const registry = createEntityRegistry();
  const adapter = simulatorAdapter(url, options);
  return timedPull(async (count) => {
    for (const name of entities) {
      const pages = adapter.pullChanges(registry.get(name), { checkpoint: null, fields: [...FIELDS[name], FILTER_FIELD] });
      for await (const page of pages) count(page.upserts.length + page.rejected.length);
    }
  });
}

/** The same read with dynamics-web-api 2.5.0: change tracking, same columns, same page size. */
export function webApiPull(url: string, entities: readonly BenchEntity[]): Promise<PullOutcome> {
  const api = new DynamicsWebApi({ serverUrl: url, dataApi: { version: '9.2' }, onTokenRefresh: async () => 'sim-token-sync' });
  return timedPull(async (count) => {
    for (const name of entities) {
      const request = {
        collection: ENTITY_SETS[name],
        select: selectOf(name),
        maxPageSize: PAGE_SIZE,
        trackChanges: true,
        includeAnnotations: 'Microsoft.Dynamics.CRM.lookuplogicalname',
      };
      let page = await api.retrieveMultiple(request);
      count(page.value.length);
      while (page.oDataNextLink) {
        page = await api.retrieveMultiple(request, page.oDataNextLink);
        count(page.value.length);
      }
    }
  });
}

/** Bare GETs following nextLinks; rows are counted by their etags, the body is never parsed. */
export function servingRate(url: string, entities: readonly BenchEntity[]): Promise<PullOutcome> {
  const headers = { Authorization: 'Bearer sim-token-sync', Accept: 'application/json', 'OData-Version': '4.0', Prefer: PREFER };
  return timedPull(async (count) => {
    for (const name of entities) {
      let next: string | null = `${url}/api/data/v9.2/${ENTITY_SETS[name]}?$select=${selectOf(name).join(',')}`;
      while (next) {
        const response = await fetch(next, { headers });
        const text = await response.text();
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        let rows = 0;
        for (let at = text.indexOf('"@odata.etag"'); at >= 0; at = text.indexOf('"@odata.etag"', at + 13)) rows += 1;
        count(rows);
        const link = /"@odata\.nextLink":("(?:[^"\\]|\\.)*")/.exec(text.slice(-4096))?.[1];
        next = link ? (JSON.parse(link) as string) : null;
      }
    }
  });
}
