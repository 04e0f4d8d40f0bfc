import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import type { SimulatorServer } from '@crm-sync/dynamics-simulator';
import { apiClient } from './helpers/http.js';
import { cleanEnv, logLines, runCli, startRunner, writeConfig } from './helpers/runner-process.js';
import type { RunningProcess } from './helpers/runner-process.js';
import { expectedSynced, simulatorConfig, startTestSimulator } from './helpers/simulator.js';

let sim: SimulatorServer;
beforeAll(async () => {
  sim = await startTestSimulator({ seed: 33, contacts: 2_000, leads: 200, accounts: 100, opportunities: 20, memberships: 10 });
});
afterAll(async () => sim?.close());

/** A runner whose first (or next) cycle is over; its counts per entity from the API. */
async function started(config: string) {
  const runner = await startRunner(['--config', config]);
  const api = apiClient(runner.url);
  await runner.waitFor(/"msg":"cycle finished"/, 120_000);
  const status = (await api.get('/api/v1/status')).json;
  const records = Object.fromEntries((status.entities as Array<{ entity: string; stats: { records: number } }>).map((e) => [e.entity, e.stats.records]));
  return { runner, api, records };
}

/** What the first cycle of a run pulled, from its log. */
function firstCycle(runner: RunningProcess) {
  return logLines(runner.stderr()).find((l) => l.msg === 'cycle finished') as { pulled: number; ok: boolean };
}

describe('the embedded store (PostgreSQL in the runner process)', () => {
  it('keeps everything across SIGINT and SIGKILL: no second initial sync, no lost local edit, every record once', async () => {
    const config = writeConfig(simulatorConfig(sim, { store: { kind: 'embedded' }, crm: { pageSize: 500 } }));
    const dataDir = join(dirname(config), '.crm-sync', 'data');

    const first = await started(config);
    expect(first.records.contact).toBe(expectedSynced(sim, 'contact'));
    expect(firstCycle(first.runner).pulled).toBeGreaterThan(2_000);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    // A second runner on the same data directory is refused, naming the holder; nothing is corrupted.
    const second = await runCli(['sync', '--once', '--config', config], cleanEnv());
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/STORE_UNAVAILABLE/);
    expect(second.stderr).toContain(dataDir);
    expect(second.stderr).toContain(String(first.runner.child.pid));
    // A local edit of a local-only field: only the store remembers it.
    const leads = (await first.api.get('/api/v1/entities/lead/records?limit=1')).json.items as Array<{ id: string }>;
    const lead = leads[0]?.id as string;
    expect((await first.api.patch(`/api/v1/entities/lead/records/${lead}`, { fields: { x_note: 'kept across restarts' } })).status).toBe(200);
    expect((await first.runner.stop('SIGINT')).code).toBe(0);
    expect(existsSync(join(dataDir, 'crm-sync.lock'))).toBe(false);
    // No runner running: crm-sync why reads the field's history from the store.
    const why = await runCli(['why', 'lead', lead, 'x_note', '--json', '--config', config], cleanEnv());
    expect(why.code, why.stderr).toBe(0);
    expect(JSON.parse(why.stdout)).toMatchObject({ entity: 'lead', id: lead, field: 'x_note', current: 'kept across restarts' });
    expect((JSON.parse(why.stdout).steps as Array<{ rule: string; side: string; value: unknown }>).map((s) => [s.rule, s.side, s.value])).toEqual([
      ['create', 'crm', null],
      ['local-edit', 'local', 'kept across restarts'],
    ]);

    const again = await started(config);
    expect(firstCycle(again.runner)).toMatchObject({ ok: true, pulled: 0 });
    expect(again.records).toEqual(first.records);
    expect((await again.api.get(`/api/v1/entities/lead/records/${lead}`)).json.record.fields.x_note).toBe('kept across restarts');
    // Killed: no graceful close, the lock file stays behind with a dead pid.
    again.runner.child.kill('SIGKILL');
    await again.runner.exited;
    expect(existsSync(join(dataDir, 'crm-sync.lock'))).toBe(true);

    const afterKill = await started(config);
    try {
      expect(firstCycle(afterKill.runner)).toMatchObject({ ok: true, pulled: 0 });
      expect(afterKill.records).toEqual(first.records);
      expect((await afterKill.api.get(`/api/v1/entities/lead/records/${lead}`)).json.record.fields.x_note).toBe('kept across restarts');
      expect(afterKill.runner.stderr()).toMatch(/stale|no longer running/i);
    } finally {
      await afterKill.runner.stop('SIGTERM');
    }
  }, 300_000);

  it('is the default for a configured CRM without a database URL, and moves to a PostgreSQL server by export and import', async () => {
    const { store: _memory, ...withoutStore } = simulatorConfig(sim, { sync: { entities: { contact: { enabled: false } } } });
    // A standalone simulator stands in for a real org here: its data outlives the runner.
    const config = writeConfig(withoutStore);
    const synced = await runCli(['sync', '--once', '--json', '--config', config], cleanEnv(), 120_000);
    expect(synced.code, synced.stderr).toBe(0);
    expect(existsSync(join(dirname(config), '.crm-sync', 'data'))).toBe(true);
    const status = await runCli(['status', '--json', '--config', config], cleanEnv());
    expect(status.code, status.stderr).toBe(0);
    const counts = (report: string) => Object.fromEntries((JSON.parse(report).entities as Array<{ entity: string; stats: { records: number } }>).map((e) => [e.entity, e.stats.records]));
    const before = counts(status.stdout);
    expect(before.lead).toBe(expectedSynced(sim, 'lead'));

    const file = join(dirname(config), 'export.jsonl');
    const exported = await runCli(['export', '--out', file, '--json', '--config', config], cleanEnv());
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout).counts.records).toBe(Object.values(before).reduce((a, b) => a + b, 0));
    expect(readFileSync(file, 'utf8').split('\n')[0]).toContain('"format":"crm-sync-data"');

    const schema = `runner_import_${process.pid}`;
    const server = writeConfig({ ...withoutStore, store: { kind: 'postgres', schema } });
    const env = cleanEnv({ CRM_SYNC_DATABASE_URL: testDatabaseUrl() });
    const imported = await runCli(['import', file, '--config', server], env);
    expect(imported.code, imported.stderr).toBe(0);
    const moved = await runCli(['status', '--json', '--config', server], env);
    expect(counts(moved.stdout)).toEqual(before);
    // A second import into the same schema is refused and changes nothing.
    const twice = await runCli(['import', file, '--config', server], env);
    expect(twice.code).not.toBe(0);
    expect(twice.stderr).toContain('already holds data');
    // The next cycle on the server resumes from the imported checkpoints: nothing to read again.
    const next = await runCli(['sync', '--once', '--json', '--config', server], env, 120_000);
    expect(next.code, next.stderr).toBe(0);
    expect((JSON.parse(next.stdout).entities as Array<{ pulled: number }>).reduce((n, e) => n + e.pulled, 0)).toBe(0);
  }, 300_000);

  it('keeps the demo on the memory store unless --store names another', async () => {
    const storeOf = async (args: string[]) => {
      const result = await runCli(['doctor', '--json', ...args], cleanEnv(), 120_000);
      return (JSON.parse(result.stdout).steps as Array<{ name: string; detail: string }>).find((s) => s.name === 'config')?.detail;
    };
    expect(await storeOf([])).toContain('store memory (in this process)');
    expect(await storeOf(['--store', 'embedded'])).toContain('store embedded (./.crm-sync/data)');
  }, 180_000);
});
