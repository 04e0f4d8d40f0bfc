import { createSyncEngine } from '@crm-sync/core';
import { createDynamicsAdapter } from '@crm-sync/dynamics-adapter';
import { startSimulatorServer } from '@crm-sync/dynamics-simulator';
import type { SimulatorServer } from '@crm-sync/dynamics-simulator';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SyncStore } from '@crm-sync/core';
import { createPostgresStore, migrate } from '@crm-sync/postgres-store';
import { createEmbeddedStore } from '@crm-sync/postgres-store/embedded';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRunnerProcess } from '../src/processes.js';

/**
 * Crash recovery: the same scripted run (initial sync; then edits on both sides, account changes
 * that fan out, deletes, new persons; then a sync) once without a crash and once per kill point,
 * where the runner SIGKILLs itself and is restarted. The end state must be the same: nothing lost,
 * nothing applied twice (the simulator's count of writes must match too).
 */
const KILL_POINTS = ['before-commit:3', 'in-commit:3', 'in-commit:12', 'in-fanout:1', 'after-crm-write:1', 'after-crm-write:2'];

const pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 4 });
const servers: SimulatorServer[] = [];
const dataDirs = mkdtempSync(join(tmpdir(), 'crm-sync-crash-'));
afterAll(async () => {
  for (const s of servers) await s.close();
  await pool.end();
  rmSync(dataDirs, { recursive: true, force: true });
}, 60_000);

/** A record as the end state reads it. */
interface EndRow {
  entity: string;
  id: string;
  local_only: boolean;
  fields: { lastname?: string } & Record<string, unknown>;
  company: unknown;
  crm_deleted: boolean;
  pending: string[];
}

/** A store the runner processes reopen after each kill, and the test opens between their runs. */
interface CrashStore {
  name: string;
  /** A fresh, empty store for one scripted run: the runner processes' environment for it. */
  prepare(run: string): Promise<Record<string, string>>;
  open(env: Record<string, string>): Promise<{ store: SyncStore; rows(sql: string): Promise<EndRow[]> }>;
}

const postgresStore: CrashStore = {
  name: 'the PostgreSQL store',
  async prepare(run) {
    const schema = `crash_${run.replace(/[^a-z0-9]/gi, '_')}_${process.pid}`;
    await pool.query(`drop schema if exists "${schema}" cascade`);
    await migrate(pool, schema);
    return { DATABASE_URL: testDatabaseUrl(), SCHEMA: schema };
  },
  async open(env) {
    const schema = env.SCHEMA as string;
    return { store: createPostgresStore({ pool, schema }), rows: async (sql) => (await pool.query<EndRow>(sql.replaceAll('{schema}', `"${schema}"`))).rows };
  },
};

const embeddedStore: CrashStore = {
  name: 'the embedded store (PGlite, restarted from its data directory)',
  async prepare(run) {
    // A copy of a created, empty data directory: creating one (initdb) takes seconds each time.
    const template = join(dataDirs, 'template');
    if (!existsSync(template)) await (await createEmbeddedStore({ dataDir: template })).close();
    const dataDir = join(dataDirs, run.replace(/[^a-z0-9]/gi, '_'));
    cpSync(template, dataDir, { recursive: true });
    return { STORE: 'embedded', DATA_DIR: dataDir };
  },
  async open(env) {
    const store = await createEmbeddedStore({ dataDir: env.DATA_DIR as string });
    return { store, rows: async (sql) => (await store.driver.query<EndRow>(sql.replaceAll('{schema}', '"crm_sync"'))).rows };
  },
};

interface EndState {
  local: Record<string, unknown>;
  crm: Record<string, unknown>;
  crmWrites: number;
  kills: number;
}

/** Runs until a cycle does nothing; with CRASH_AT the first process dies there and a second finishes. */
async function syncUntilIdle(env: Record<string, string>, crashAt: string | null): Promise<number> {
  let kills = 0;
  if (crashAt) {
    const crashing = startRunnerProcess('runner-1', { ...env, MODE: 'until-idle', CRASH_AT: crashAt });
    const code = await crashing.exited;
    if (code === null) kills += 1;
    else expect(code, JSON.stringify(crashing.events.filter((e) => e.type === 'failed'))).toBe(0);
  }
  const finisher = startRunnerProcess('runner-1', { ...env, MODE: 'until-idle' });
  expect(await finisher.exited, JSON.stringify(finisher.events.filter((e) => e.type === 'failed'))).toBe(0);
  return kills;
}

async function scriptedRun(target: CrashStore, name: string, crashAt: string | null): Promise<EndState> {
  const server = await startSimulatorServer({
    seed: 21, accounts: 40, contacts: 2_000, leads: 600, opportunities: 0, memberships: 0, teams: 0, users: 4, limits: { enabled: false },
  });
  servers.push(server);
  const env = {
    ...(await target.prepare(name)), SIMULATOR_URL: server.url, SIMULATOR_TOKEN: server.simulator.tokens.sync,
    PAGE_SIZE: '250', LEASE_TTL_MS: '60000',
  };
  let kills = await syncUntilIdle(env, crashAt);

  // Edits on both sides, the same in every run.
  const { control, simulator } = server;
  const dataset = simulator.dataset;
  const staff = control.users().staff[0]?.id as string;
  // Rows the sync filter lets through (R11), spread over each table.
  const synced = (table: 'contact' | 'lead' | 'account', count: number, step: number) =>
    Array.from({ length: dataset.counts[table] }, (_, i) => i)
      .filter((i) => i % step === 0 && dataset.row(table, i).new_synctomkto !== false)
      .slice(0, count)
      .map((i) => dataset.idOf(table, i));
  const contactIds = synced('contact', 60, 7);
  const leadIds = synced('lead', 50, 5);
  const accountIds = synced('account', 6, 3);
  contactIds.slice(0, 30).forEach((id, i) => control.updateRow('contact', id, { jobtitle: `CRM title ${i}` }, { asUser: staff }));
  accountIds.slice(0, 4).forEach((id, i) => control.updateRow('account', id, { telephone1: `555-10${i}` }, { asUser: staff }));
  leadIds.slice(45).forEach((id) => control.deleteRow('lead', id, { asUser: staff }));
  for (let i = 0; i < 8; i += 1) control.insertRow('lead', { lastname: `Inserted ${i}`, firstname: 'CRM' }, { asUser: staff, id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` });

  const opened = await target.open(env);
  const { store } = opened;
  const engine = createSyncEngine({
    adapter: createDynamicsAdapter({ environmentUrl: server.url, auth: { kind: 'static-token', token: simulator.tokens.sync } }),
    store,
    runnerId: 'local-edits',
  });
  for (const [i, id] of contactIds.slice(15, 45).entries()) await engine.editLocal('contact', id, { fields: { jobtitle: `Local title ${i}` } });
  for (const [i, id] of leadIds.slice(0, 40).entries()) await engine.editLocal('lead', id, { fields: { subject: `Local subject ${i}` } });
  for (const id of accountIds.slice(3, 6)) await engine.editLocal('account', id, { fields: { address1_city: 'Edited locally' } });
  for (let i = 0; i < 5; i += 1) await engine.createPerson({ lastname: `Local person ${i}`, firstname: 'New' });
  await engine.stop();
  await store.close(); // the embedded store's data directory is one process's at a time

  kills += await syncUntilIdle(env, crashAt);

  // The end state on both sides, keyed so that runs compare (local persons have random ids).
  const reader = await target.open(env);
  const rows = await reader.rows(
    'select entity, id, crm_id is null as local_only, fields, company, crm_deleted, pending from {schema}.records order by entity, id',
  );
  await reader.store.close();
  const local: Record<string, unknown> = {};
  for (const r of rows) {
    const key = r.fields.lastname?.startsWith('Local person') ? `${r.entity}:${r.fields.lastname}` : `${r.entity}:${r.id}`;
    local[key] = { fields: r.fields, company: r.company, crmDeleted: r.crm_deleted, pending: r.pending, localOnly: r.local_only };
  }
  const crm: Record<string, unknown> = {};
  const pick = (row: Record<string, unknown> | null, fields: string[]) => (row ? Object.fromEntries(fields.map((f) => [f, row[f] ?? null])) : null);
  for (const id of contactIds) crm[`contact:${id}`] = pick(control.getRow('contact', id), ['firstname', 'lastname', 'jobtitle']);
  for (const id of leadIds) crm[`lead:${id}`] = pick(control.getRow('lead', id), ['firstname', 'lastname', 'subject']);
  for (const id of accountIds) crm[`account:${id}`] = pick(control.getRow('account', id), ['name', 'telephone1', 'address1_city']);
  for (const r of rows.filter((x) => x.fields.lastname?.startsWith('Local person'))) {
    crm[`lead:${r.fields.lastname}`] = pick(control.getRow('lead', r.id), ['firstname', 'lastname', 'subject']);
  }
  const crmWrites = control.stats().orgVersion;
  await server.close();
  servers.splice(servers.indexOf(server), 1);
  return { local, crm, crmWrites, kills };
}

/** Keys whose values differ, with both values (readable where a deep diff of 2,000 records is not). */
function differences(actual: Record<string, unknown>, expected: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(actual), ...Object.keys(expected)]);
  return [...keys]
    .filter((k) => JSON.stringify(actual[k]) !== JSON.stringify(expected[k]))
    .map((k) => `${k}: ${JSON.stringify(actual[k])} instead of ${JSON.stringify(expected[k])}`);
}

describe.each([postgresStore, embeddedStore])('crash recovery with $name (SIGKILL at many points of a cycle)', (target) => {
  let reference: EndState;
  beforeAll(async () => {
    reference = await scriptedRun(target, 'reference', null);
  }, 180_000);

  it('the run without a crash syncs everything (the reference is meaningful)', () => {
    expect(Object.keys(reference.local).length).toBeGreaterThan(2_000);
    expect(reference.crm['lead:Local person 0']).toMatchObject({ lastname: 'Local person 0' });
    expect(Object.values(reference.local).every((r) => (r as { pending: string[] }).pending.length === 0)).toBe(true);
  });

  it.each(KILL_POINTS)('killed at %s, restarted: same end state, no write applied twice', async (point) => {
    const crashed = await scriptedRun(target, point, point);
    expect(crashed.kills, 'the runner really died at the kill point').toBeGreaterThanOrEqual(1);
    expect(differences(crashed.local, reference.local), 'local records').toEqual([]);
    expect(differences(crashed.crm, reference.crm), 'CRM rows').toEqual([]);
    expect(crashed.crmWrites, 'writes applied in the CRM').toBe(reference.crmWrites);
  }, 180_000);
});
