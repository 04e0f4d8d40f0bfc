import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import { migrations } from '@crm-sync/postgres-store';
import type { SimulatorServer } from '@crm-sync/dynamics-simulator';
import { cleanEnv, logLines, runCli, spawnCli, writeConfig } from './helpers/runner-process.js';
import { expectedSynced, simulatorConfig, startTestSimulator, stopInContacts } from './helpers/simulator.js';

const url = testDatabaseUrl();
const pool = new pg.Pool({ connectionString: url, max: 2 });
const env = (extra: Record<string, string> = {}) => cleanEnv({ CRM_SYNC_DATABASE_URL: url, ...extra });
let sim: SimulatorServer;

beforeAll(async () => {
  sim = await startTestSimulator({ seed: 21, contacts: 12_000, leads: 300, accounts: 200, opportunities: 50, memberships: 10 });
});
afterAll(async () => {
  await sim?.close();
  await pool.end();
});

describe('crm-sync migrate', () => {
  it('applies the migrations once and then says the schema is up to date', async () => {
    const schema = `runner_migrate_${process.pid}`;
    const config = writeConfig({ store: { kind: 'postgres', schema } });
    const first = await runCli(['migrate', '--json', '--config', config], env());
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ schema, applied: migrations.map((m) => ({ version: m.version, name: m.name })), version: migrations.at(-1)?.version });
    const second = await runCli(['migrate', '--config', config], env());
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`Schema ${schema} is up to date`);
    const { rows } = await pool.query(`select count(*)::int as n from "${schema}".schema_migrations`);
    expect(rows[0].n).toBe(migrations.length);
  });

  it('reaches the database in the environment without a config file', async () => {
    // The README's example: no file, only CRM_SYNC_DATABASE_URL. (A rerun on the same database finds
    // the schema up to date, so only the schema and its version are asserted.)
    const result = await runCli(['migrate', '--json'], env());
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ schema: 'crm_sync', version: migrations.at(-1)?.version });
  });

  it('needs a PostgreSQL store', async () => {
    const result = await runCli(['migrate', '--config', writeConfig({ store: { kind: 'memory' } })]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('CRM_SYNC_DATABASE_URL');
  });
});

describe('graceful shutdown', () => {
  /** Runs `crm-sync <args>` on the PostgreSQL schema and sends `signal` in the middle of the contacts. */
  async function stopInPostgres(schema: string, args: string[], signal: NodeJS.Signals) {
    const config = writeConfig(simulatorConfig(sim, { store: { kind: 'postgres', schema }, crm: { pageSize: 400 }, sync: { entities: { lead: { enabled: false } } }, log: { level: 'debug', format: 'json' } }));
    return { config, result: await stopInContacts(sim, [...args, '--config', config], signal, env()) };
  }

  it('finishes the page in hand on SIGTERM, exits 0 with a committed checkpoint, and the next run completes the data', async () => {
    const schema = `runner_shutdown_${process.pid}`;
    const { config, result } = await stopInPostgres(schema, ['start'], 'SIGTERM');
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/"msg":"stopping: finishing the page in hand"/);
    expect(result.stderr).toMatch(/"msg":"stopped"/);

    const total = expectedSynced(sim, 'contact');
    const checkpoint = await pool.query(`select checkpoint from "${schema}".checkpoints where entity = 'contact'`);
    expect(checkpoint.rows[0]?.checkpoint).toEqual(expect.any(String));
    const stored = Number((await pool.query(`select count(*) as n from "${schema}".records where entity = 'contact'`)).rows[0].n);
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThan(total);

    // The status command reads the database when no runner runs.
    const status = await runCli(['status', '--json', '--config', config], env());
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).entities.find((e: { entity: string }) => e.entity === 'contact').stats.records).toBe(stored);

    const resumed = await runCli(['sync', '--once', '--json', '--entity', 'contact', '--config', config], env());
    expect(resumed.code).toBe(0);
    const summary = JSON.parse(resumed.stdout);
    // Replayed pages change nothing: the data ends complete, each contact once.
    expect(summary.stats.contact.records).toBe(total);
    const distinct = await pool.query(`select count(distinct crm_id)::int as n from "${schema}".records where entity = 'contact'`);
    expect(distinct.rows[0].n).toBe(total);
  });

  it('sync --once stopped with SIGINT: exit 130, an interrupted cycle (not a failed one), entities read before the stop ok, and the next run resumes', async () => {
    const { config, result } = await stopInPostgres(`runner_sigint_${process.pid}`, ['sync', '--once', '--json'], 'SIGINT');
    expect(result.code, result.stderr.slice(-2_000)).toBe(130);
    const summary = JSON.parse(result.stdout) as { ok: boolean; interrupted: boolean; entities: { entity: string; status: string; error?: unknown }[] };
    expect(summary).toMatchObject({ ok: false, interrupted: true });
    // Read to their end before the stop: done. The contacts were stopped in the middle, the opportunities never began.
    expect(Object.fromEntries(summary.entities.map((e) => [e.entity, e.status]))).toEqual({
      systemuser: 'ok', team: 'ok', account: 'ok', contact: 'interrupted', opportunity: 'interrupted',
    });
    expect(summary.entities.filter((e) => e.error !== undefined)).toEqual([]);
    const lines = logLines(result.stderr);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(lines.find((l) => l.msg === 'cycle finished')).toMatchObject({ ok: false, interrupted: true });
    expect(lines.find((l) => l.msg === 'cycle interrupted')?.hint).toBe(
      '3 of 5 entities finished before the stop; the next run resumes from where this one stopped (the checkpoints of the pages read are committed)',
    );

    const resumed = await runCli(['sync', '--once', '--json', '--config', config], env());
    expect(resumed.code, resumed.stdout.slice(0, 3_000)).toBe(0);
    const after = JSON.parse(resumed.stdout) as { ok: boolean; stats: Record<string, { records: number }> };
    expect(after.ok).toBe(true);
    expect(after.stats.contact?.records).toBe(expectedSynced(sim, 'contact'));
  });

  it('killed with SIGKILL twice in the middle of the contacts, the next run completes the data: each contact once, one New Person activity each', async () => {
    const schema = `runner_sigkill_${process.pid}`;
    const config = writeConfig(simulatorConfig(sim, { store: { kind: 'postgres', schema }, crm: { pageSize: 400 }, sync: { entities: { lead: { enabled: false } } }, log: { level: 'debug', format: 'json' } }));
    sim.control.setFaults({ seed: 2, rules: [{ kind: 'slow', rate: 1, delayMs: 100, path: '/contacts' }] });
    const stored = async () => {
      // Zero until the runner has created its schema.
      const exists = await pool.query(`select to_regclass($1) as t`, [`"${schema}".records`]);
      if (!exists.rows[0].t) return 0;
      return Number((await pool.query(`select count(*) as n from "${schema}".records where entity = 'contact'`)).rows[0]?.n ?? 0);
    };
    const counts: number[] = [];
    try {
      for (let run = 0; run < 2; run += 1) {
        // The same runner id: restarted, it takes its lease back at once.
        const runner = spawnCli(['start', '--config', config], env({ CRM_SYNC_RUNNER_ID: 'killed-runner' }));
        try {
          // Killed once the store holds more contacts than the last kill left. Not after a number of
          // pages: a resume reads again the ranges after the first one that was not complete, so its
          // first pages may add nothing.
          const before = counts.at(-1) ?? 0;
          const deadline = Date.now() + 60_000;
          while ((await stored()) <= before) {
            if (runner.child.exitCode !== null || Date.now() > deadline) {
              throw new Error(`run ${run + 1}: still ${before} contacts stored (runner ${runner.child.exitCode === null ? 'running' : 'exited'}):\n${runner.stderr().slice(-2000)}`);
            }
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          const result = await runner.stop('SIGKILL');
          expect(result.signal).toBe('SIGKILL');
        } finally {
          await runner.stop('SIGKILL');
        }
        counts.push(await stored());
      }
    } finally {
      sim.control.setFaults(null);
    }
    const total = expectedSynced(sim, 'contact');
    // The second kill, too, left part of the contacts.
    expect(counts[1]).toBeLessThan(total);

    // Another runner would skip the entity until the dead one's lease expires; the same id goes on at once.
    const other = await runCli(['sync', '--once', '--json', '--entity', 'contact', '--config', config], env());
    expect(JSON.parse(other.stdout).entities[0].status).toBe('skipped');
    const resumed = await runCli(['sync', '--once', '--json', '--entity', 'contact', '--config', config], env({ CRM_SYNC_RUNNER_ID: 'killed-runner' }));
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout).stats.contact.records).toBe(total);
    const distinct = await pool.query(`select count(distinct crm_id)::int as n from "${schema}".records where entity = 'contact'`);
    expect(distinct.rows[0].n).toBe(total);
    const created = await pool.query(
      `select count(*)::int as n, count(distinct record_id)::int as records from "${schema}".activities where entity = 'contact' and type = 'new-person'`,
    );
    expect(created.rows[0]).toEqual({ n: total, records: total });
  });
});
