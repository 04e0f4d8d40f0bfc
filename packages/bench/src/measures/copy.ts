/**
 * Item 2: the PostgreSQL store's page writes against a plain COPY of the same rows into the same
 * tables. The pages are what the engine commits during a real initial sync of contacts (captured
 * from the memory store); each run writes them once through `store.commit` into one fresh schema
 * and once by `COPY ... FROM STDIN` (records and their activities) into another, page by page and
 * alternating which goes first. Serialising the rows is part of both.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { ActivityInput, RecordWrite, StoreBatch, SyncStore } from '@crm-sync/core';
import { createMemoryStore } from '@crm-sync/memory-store';
import type { Figure, Run } from '../lib/figure.js';
import { makeFigure } from '../lib/figure.js';
import { log } from '../lib/log.js';
import { freshPostgresStore } from '../lib/postgres.js';
import { perSecond } from '../lib/stats.js';
import { createRunner } from '../lib/wiring.js';
import type { SimulatorProcess } from '../simulator/process.js';

/** Pages the engine commits while syncing contacts, up to `pages` of them. */
async function capturePages(url: string, pages: number): Promise<StoreBatch[]> {
  const memory = createMemoryStore();
  const captured: StoreBatch[] = [];
  const store: SyncStore = Object.assign(Object.create(memory) as SyncStore, {
    async commit(batch: StoreBatch) {
      // The lease is the engine's claim on this memory store, not on the schemas the pages go to.
      const { lease: _lease, ...page } = batch;
      if ((page.records?.length ?? 0) > 0) captured.push(page);
      await memory.commit(batch);
    },
  });
  const stop = new AbortController();
  const { engine } = createRunner({
    url, store, entities: ['contact'],
    onEvent: (event) => {
      if (event.type === 'page-applied' && event.pages >= pages) stop.abort();
    },
  });
  await engine.runCycle({ signal: stop.signal });
  return captured.slice(0, pages);
}

// COPY text format: tab-separated, \N for null, backslash escapes.
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const cell = (value: string | null | undefined): string => (value === null || value === undefined ? '\\N' : value.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c] as string));
const json = (value: unknown): string => JSON.stringify(value ?? null);
const textArray = (values: readonly string[] = []): string => `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;

function recordLine(entity: string, r: RecordWrite, at: string): string {
  return [
    entity, r.id, r.crmId ?? null, r.crmVersion ?? null, '1', json(r.fields ?? {}), json(r.base ?? {}), textArray(r.pending),
    r.accountId ?? null, json(r.company ?? {}), String(r.crmDeleted ?? false), String(r.syncToCrm ?? false), r.seenIn ?? null, at,
  ].map(cell).join('\t') + '\n';
}

function activityLine(a: ActivityInput, at: string): string {
  return [a.entity, a.recordId, a.type, a.source, a.field ?? null, json(a.oldValue), json(a.newValue), a.detail ?? null, at].map(cell).join('\t') + '\n';
}

async function copyRows(client: PoolClient, sql: string, lines: string[]): Promise<void> {
  await pipeline(Readable.from(lines), client.query(copyFrom(sql)));
}

/** One page by COPY, in one transaction like a store commit. */
async function copyPage(pool: Pool, schema: string, batch: StoreBatch): Promise<void> {
  const at = new Date().toISOString();
  const client = await pool.connect();
  try {
    await client.query('begin');
    await copyRows(
      client,
      `copy "${schema}".records (entity, id, crm_id, crm_version, revision, fields, base, pending, account_id, company, crm_deleted, sync_to_crm, seen_in, updated_at) from stdin`,
      (batch.records ?? []).map((r) => recordLine(batch.entity, r, at)),
    );
    await copyRows(
      client,
      `copy "${schema}".activities (entity, record_id, type, source, field, old_value, new_value, detail, at) from stdin`,
      (batch.activities ?? []).map((a) => activityLine(a, at)),
    );
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export async function measureCopy(options: { sim: SimulatorProcess; pool: Pool; runs: number; pages: number }): Promise<Figure[]> {
  const { pool } = options;
  await options.sim.control.resetLimits();
  const pages = await capturePages(options.sim.url, options.pages);
  const records = pages.reduce((sum, p) => sum + (p.records?.length ?? 0), 0);
  const activities = pages.reduce((sum, p) => sum + (p.activities?.length ?? 0), 0);
  const runs: Run[] = [];
  for (let run = 1; run <= options.runs; run += 1) {
    const store = await freshPostgresStore(pool, `copy_store_${run}`);
    await freshPostgresStore(pool, `copy_plain_${run}`);
    let storeMs = 0;
    let copyMs = 0;
    for (const [index, page] of pages.entries()) {
      const viaStore = async () => {
        const started = performance.now();
        await store.commit(page);
        storeMs += performance.now() - started;
      };
      const viaCopy = async () => {
        const started = performance.now();
        await copyPage(pool, `copy_plain_${run}`, page);
        copyMs += performance.now() - started;
      };
      if (index % 2 === 0) await viaStore().then(viaCopy);
      else await viaCopy().then(viaStore);
    }
    await pool.query(`drop schema "copy_store_${run}" cascade; drop schema "copy_plain_${run}" cascade`);
    runs.push({ value: perSecond(records, storeMs), reference: perSecond(records, copyMs) });
    log(`  run ${run}: store ${Math.round(perSecond(records, storeMs))} records/s, COPY ${Math.round(perSecond(records, copyMs))} records/s`);
  }
  return [
    makeFigure({
      key: 'postgres.page-writes-vs-copy', item: 2,
      label: `PostgreSQL page writes (store.commit of ${pages.length} engine pages: ${records.toLocaleString('en-US')} contacts + ${activities.toLocaleString('en-US')} activities)`,
      unit: 'records/s', reference: { label: 'COPY FROM STDIN of the same rows into the same tables', unit: 'records/s' },
      target: 'ratio ≥ 0.5', runs, met: ({ ratio }) => ratio >= 0.5,
    }),
  ];
}
