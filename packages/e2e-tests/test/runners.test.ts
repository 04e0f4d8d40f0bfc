import { migrate } from '@crm-sync/postgres-store';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import { startSimulatorServer } from '@crm-sync/dynamics-simulator';
import type { SimulatorServer } from '@crm-sync/dynamics-simulator';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunnerProcess as Runner } from '../src/processes.js';
import { startRunnerProcess as startRunner, until } from '../src/processes.js';

describe('several runner processes on one PostgreSQL database', () => {
  const pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
  let simulator: SimulatorServer | undefined;
  const runners: Runner[] = [];
  afterAll(async () => {
    for (const r of runners) r.child.kill('SIGKILL');
    await simulator?.close();
    await pool.end();
  });

  it('a runner killed with SIGKILL mid-cycle is taken over: every record present once, nothing applied twice', async () => {
    simulator = await startSimulatorServer({ seed: 5, accounts: 300, contacts: 30_000, leads: 8_000, opportunities: 0, memberships: 0, limits: { enabled: false } });
    const schema = `runners_${process.pid}`;
    await migrate(pool, schema);
    const env = {
      DATABASE_URL: testDatabaseUrl(), SCHEMA: schema, SIMULATOR_URL: simulator.url,
      SIMULATOR_TOKEN: simulator.simulator.tokens.sync, PAGE_SIZE: '500', LEASE_TTL_MS: '3000',
    };
    const [a, b, c] = ['runner-a', 'runner-b', 'runner-c'].map((id) => startRunner(id, env)) as [Runner, Runner, Runner];
    runners.push(a, b, c);

    // Kill whichever runner is in the middle of the contact load, after a few committed pages.
    let victim: Runner | undefined;
    await until('a runner mid-way through contacts', () => {
      victim = runners.find((r) => r.events.some((e) => e.type === 'page-applied' && e.entity === 'contact' && Number(e.pages) >= 4));
      return victim !== undefined;
    });
    victim!.child.kill('SIGKILL');
    expect(await victim!.exited).toBeNull();
    const survivors = runners.filter((r) => r !== victim);
    expect(survivors).toHaveLength(2);

    // Rows with the sync filter explicitly false never sync (R11): expect the others.
    const dataset = simulator.simulator.dataset;
    const syncable = (table: 'contact' | 'lead' | 'account') =>
      Array.from({ length: dataset.counts[table] }, (_, i) => dataset.row(table, i)).filter((row) => row.new_synctomkto !== false).length;
    const counts = { contact: syncable('contact'), lead: syncable('lead'), account: syncable('account') };
    const count = async (entity: string) =>
      Number((await pool.query(`select count(*) as n from "${schema}".records where entity = $1`, [entity])).rows[0].n);
    const progress = async () => `contacts ${await count('contact')}/${counts.contact}, leads ${await count('lead')}/${counts.lead}, accounts ${await count('account')}/${counts.account}; last events ${JSON.stringify(survivors.map((r) => r.events.slice(-3)))}`;
    await until('every contact, lead and account synced by the survivors', async () =>
      (await count('contact')) === counts.contact && (await count('lead')) === counts.lead && (await count('account')) === counts.account,
      progress,
    );
    // A survivor took over the victim's entity after its lease expired and resumed from the victim's
    // last checkpoint: had that checkpoint been ahead of the committed rows, the rows in between
    // would never come again (the delta only brings changes) and the counts above would fall short.
    expect(survivors.some((r) => r.events.some((e) => e.type === 'page-applied' && e.entity === 'contact'))).toBe(true);

    // Every record once (the CRM id is unique per entity by index) and created once: one "new person" each.
    const { rows: duplicates } = await pool.query(
      `select record_id, count(*) from "${schema}".activities where type = 'new-person' group by entity, record_id having count(*) > 1`,
    );
    expect(duplicates).toEqual([]);
    const { rows: newPersons } = await pool.query(`select count(*)::int as n from "${schema}".activities where type = 'new-person'`);
    expect(newPersons[0].n).toBe(counts.contact + counts.lead);

    // Leases now belong to survivors only, and a graceful stop releases them.
    const { rows: leases } = await pool.query(`select owner from "${schema}".leases where expires_at > now()`);
    expect(leases.length).toBeGreaterThan(0);
    expect(leases.map((l) => l.owner as string).filter((owner) => !survivors.some((r) => r.id === owner))).toEqual([]);
    for (const r of survivors) r.child.kill('SIGTERM');
    for (const r of survivors) expect(await r.exited).toBe(0);
    const { rows: after } = await pool.query(`select count(*)::int as n from "${schema}".leases`);
    expect(after[0].n).toBe(0);
  }, 180_000);
});
