import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatorServer } from '@crm-sync/dynamics-simulator';
import { closedPort } from './helpers/net.js';
import { apiClient, eventually } from './helpers/http.js';
import { cleanEnv, logLines, runCli, spawnCli, startRunner, writeConfig } from './helpers/runner-process.js';
import { expectedSynced, simulatorConfig, startTestSimulator, stopInContacts } from './helpers/simulator.js';

let sim: SimulatorServer;
beforeAll(async () => {
  sim = await startTestSimulator({ seed: 5, contacts: 900 });
});
afterAll(() => sim.close());

describe('crm-sync sync --once', () => {
  it('prints a JSON summary that matches what the simulator holds', async () => {
    const config = writeConfig(simulatorConfig(sim));
    const result = await runCli(['sync', '--once', '--json', '--config', config]);
    expect(result.stderr).not.toMatch(/"level":"error"/);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      ok: boolean;
      entities: { entity: string; status: string; pulled: number; applied: number; filtered: number }[];
      stats: Record<string, { records: number; pending: number }>;
    };
    expect(summary.ok).toBe(true);
    const counts = sim.simulator.dataset.counts;
    for (const table of ['account', 'contact', 'lead', 'opportunity', 'systemuser', 'team'] as const) {
      const run = summary.entities.find((e) => e.entity === table);
      expect(run, table).toMatchObject({ status: 'ok', pulled: counts[table] });
      expect(run!.applied + run!.filtered, table).toBe(counts[table]);
      expect(summary.stats[table]?.records, table).toBe(expectedSynced(sim, table));
      expect(summary.stats[table]?.pending, table).toBe(0);
    }
  });

  it('plans a cycle with --dry-run and writes nothing to the CRM', async () => {
    const config = writeConfig(simulatorConfig(sim));
    const since = sim.control.requestLog().at(-1)?.seq ?? 0;
    const result = await runCli(['sync', '--dry-run', '--json', '--entity', 'lead', '--config', config]);
    expect(result.code, result.stderr).toBe(0);
    const plan = JSON.parse(result.stdout) as { dryRun: boolean; entities: { entity: string; created: { total: number }; summary: { applied: number; filtered: number } }[] };
    expect(plan.dryRun).toBe(true);
    expect(plan.entities.map((e) => e.entity)).toEqual(['lead']);
    expect(plan.entities[0]?.created.total).toBe(expectedSynced(sim, 'lead'));
    expect(sim.control.requestLog({ since }).filter((r) => r.method !== 'GET')).toEqual([]);
    const human = await runCli(['sync', '--dry-run', '--entity', 'team', '--config', config]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^entity\s+status\s+create\s+update\s+push/m);
    expect(human.stdout).toContain('Dry run: nothing was written to the store or the CRM');
  });

  it('refuses an errors replay that names nothing, or names it badly, with exit code 2', async () => {
    const config = writeConfig(simulatorConfig(sim));
    const cases: Array<[string[], string]> = [
      [[], 'Name the entries to replay'],
      [['--id', 'abc'], '--id "abc" is not a quarantine entry id'],
      [['--since', 'yesterday'], '--since "yesterday" is not an ISO-8601 time'],
      [['--since', '2026-12-05T10:00:00Z', '--until', '2026-12-05T09:00:00Z'], '--until (2026-12-05T09:00:00.000Z) must be after --since'],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(['errors', 'replay', ...args, '--config', config]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toContain(message);
    }
  });

  it('syncs only the entities named with --entity', async () => {
    const config = writeConfig(simulatorConfig(sim));
    const result = await runCli(['sync', '--once', '--json', '--entity', 'lead', '--config', config]);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as { entities: { entity: string; pulled: number }[] };
    expect(summary.entities.map((e) => e.entity)).toEqual(['lead']);
    expect(summary.entities[0]?.pulled).toBe(sim.simulator.dataset.counts.lead);
  });

  it('prints a table for people and refuses an unknown entity with exit code 2', async () => {
    const config = writeConfig(simulatorConfig(sim));
    const human = await runCli(['sync', '--once', '--entity', 'team', '--config', config]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^entity\s+status\s+pulled/m);
    expect(human.stdout).toMatch(/^team\s+ok\s+\d+/m);
    const unknown = await runCli(['sync', '--once', '--entity', 'nope', '--config', config]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown entity "nope"; known: systemuser, team, account, contact, lead, opportunity');
  });

  it('exits 1 and names the entity when an entity fails', async () => {
    // Hide every lead from the sync user: Dataverse refuses change tracking to a user with partial read (403).
    sim.control.setRowFilter(sim.simulator.users.sync.id, 'lead', "lastname eq 'nobody-has-this-name'");
    try {
      const config = writeConfig(simulatorConfig(sim));
      const result = await runCli(['sync', '--once', '--json', '--entity', 'lead', '--entity', 'team', '--config', config]);
      expect(result.code).toBe(1);
      const summary = JSON.parse(result.stdout) as { ok: boolean; entities: { entity: string; status: string; error?: { code: string } }[] };
      expect(summary.ok).toBe(false);
      expect(summary.entities.find((e) => e.entity === 'lead')).toMatchObject({ status: 'failed', error: { code: expect.any(String) } });
      expect(summary.entities.find((e) => e.entity === 'team')?.status).toBe('ok');
    } finally {
      sim.control.setRowFilter(sim.simulator.users.sync.id, 'lead', null);
    }
  });

  it('fails within seconds when the CRM cannot be reached: the cause on stderr, one failure, the other entities not run', async () => {
    // Nothing listens on the port: neither the token request nor the Web API can ever get an answer.
    const port = await closedPort();
    const config = writeConfig({
      crm: { kind: 'dynamics', environmentUrl: `https://127.0.0.1:${port}`, tenantId: 'tenant', clientId: 'client', authorityHost: `https://127.0.0.1:${port}` },
      store: { kind: 'memory' },
      log: { level: 'info', format: 'json' },
    });
    // Before: each entity retried for about a minute (5 min 26 s in all), 20 s is plenty now.
    const result = await runCli(['sync', '--once', '--json', '--config', config], cleanEnv({ CRM_SYNC_CLIENT_SECRET: 'secret-of-this-test' }), 20_000);
    expect(result.code).toBe(1);
    const errors = logLines(result.stderr).filter((line) => line.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ msg: 'entity failed', entity: 'systemuser', code: 'CRM_UNREACHABLE' });
    expect(errors[0]?.error).toContain(`connect ECONNREFUSED 127.0.0.1:${port}`);
    const summary = JSON.parse(result.stdout) as { ok: boolean; entities: { entity: string; status: string; error?: { code: string; message: string } }[] };
    expect(summary.ok).toBe(false);
    expect(summary.entities.map((e) => e.status)).toEqual(['failed', 'not-run', 'not-run', 'not-run', 'not-run', 'not-run']);
    expect(summary.entities[1]?.error?.message).toBe('not run: the cycle stopped when systemuser failed with CRM_UNREACHABLE, a failure of the whole CRM connection');
    expect(result.stdout + result.stderr).not.toContain('secret-of-this-test');
  });
});

describe('crm-sync sync --once stopped by a signal', () => {
  it('with the memory store: exit 130, "Cycle interrupted", and says that the next run starts over', async () => {
    const config = writeConfig(simulatorConfig(sim, { crm: { pageSize: 100 }, log: { level: 'debug', format: 'json' } }));
    const result = await stopInContacts(sim, ['sync', '--once', '--config', config], 'SIGINT');
    expect(result.code).toBe(130);
    // Read to their end before the stop: done; the opportunities come after the contacts.
    expect(result.stdout).toMatch(/^account\s+ok\s/m);
    expect(result.stdout).toMatch(/^opportunity\s+interrupted\s/m);
    expect(result.stdout).toMatch(
      /^Cycle interrupted after \d+\.\d s: [3-5] of 6 entities finished before the stop; the memory store keeps nothing after exit, so the next run starts over \(keep the data in PostgreSQL to resume\)\.$/m,
    );
    expect(result.stdout).not.toContain('did not finish');
  });
});

describe('configuration', () => {
  it('exits 2 on a bad config and lists every path with its problem', async () => {
    const config = writeConfig({
      crm: { kind: 'dynamics', environmentUrl: 'not a url', tenantId: '' },
      store: { kind: 'memory' },
      sync: { intervalMs: 10 },
      server: { port: 'eighty' },
      surprise: true,
    });
    const result = await runCli(['sync', '--once', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    for (const path of ['crm.environmentUrl:', 'crm.tenantId:', 'crm.clientId:', 'sync.intervalMs:', 'server.port:', 'surprise']) {
      expect(result.stderr).toContain(path);
    }
    expect(result.stderr).toContain(config);
  });

  it('names the environment variable an override came from', async () => {
    const config = writeConfig(simulatorConfig(sim));
    const result = await runCli(['sync', '--once', '--config', config], cleanEnv({ CRM_SYNC_INTERVAL_MS: 'soon' }));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/sync\.intervalMs: .* \(from CRM_SYNC_INTERVAL_MS\)/);
  });

  it('requires the client secret in the environment for Dynamics, and an unreadable file is an error', async () => {
    const dynamics = await runCli(['doctor'], cleanEnv({ CRM_SYNC_ENVIRONMENT_URL: 'https://contoso.crm.dynamics.com', CRM_SYNC_TENANT_ID: 't', CRM_SYNC_CLIENT_ID: 'c' }));
    expect(dynamics.code).toBe(2);
    expect(dynamics.stderr).toContain('crm.clientSecretEnv: environment variable CRM_SYNC_CLIENT_SECRET is not set');
    const missing = await runCli(['status', '--config', '/nonexistent/crm-sync.json']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read it (ENOENT)');
  });

  it('rejects unknown commands and options with exit code 2', async () => {
    expect((await runCli(['frobnicate'])).code).toBe(2);
    const bad = await runCli(['sync', '--once', '--no-such-option']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("Unknown option '--no-such-option'");
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['start', 'sync --once', 'status', 'fields list', 'fields add', 'why', 'doctor', 'simulator', 'migrate']) {
      expect(help.stdout).toContain(command);
    }
  });
});

describe('crm-sync doctor', () => {
  it('passes every step against a healthy simulated org', async () => {
    const config = writeConfig(simulatorConfig(sim));
    const result = await runCli(['doctor', '--config', config]);
    expect(result.code).toBe(0);
    for (const step of ['config', 'store', 'change tokens', 'credentials', 'whoami', 'read contact', 'change tracking contact', 'fields contact', 'read lead']) {
      expect(result.stdout).toMatch(new RegExp(`^PASS  ${step}\\s`, 'm'));
    }
    expect(result.stdout).toMatch(/secured without read privilege: new_creditlimit/);
    expect(result.stdout).toMatch(/\d+ passed, \d+ warnings, 0 failed/);
  });

  it('fails with a hint on missing privileges, unknown fields, and warns when change tracking is off', async () => {
    sim.control.setRowFilter(sim.simulator.users.sync.id, 'lead', "lastname eq 'nobody-has-this-name'");
    sim.control.setChangeTracking('opportunity', false);
    try {
      const config = writeConfig(simulatorConfig(sim, { sync: { entities: { contact: { fields: ['firstname', 'no_such_column'] } } } }));
      const result = await runCli(['doctor', '--json', '--config', config]);
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout) as { ok: boolean; steps: { name: string; status: string; hint?: string }[] };
      expect(report.ok).toBe(false);
      const step = (name: string) => report.steps.find((s) => s.name === name);
      expect(step('read lead')).toMatchObject({ status: 'fail', hint: expect.stringContaining('organization-level Read') });
      expect(step('fields contact')).toMatchObject({ status: 'fail', hint: expect.stringContaining('sync.entities.contact.fields') });
      expect(step('change tracking opportunity')).toMatchObject({ status: 'warn', hint: expect.stringContaining('Track changes') });
      expect(step('read contact')?.status).toBe('pass');
    } finally {
      sim.control.setRowFilter(sim.simulator.users.sync.id, 'lead', null);
      sim.control.setChangeTracking('opportunity', true);
    }
  });

  it('never shows a secret, even when the credentials and the database fail', async () => {
    const secret = 'Xy9-client-secret-never-printed';
    const password = 'pg-password-never-printed';
    const config = writeConfig({
      crm: {
        kind: 'dynamics',
        environmentUrl: sim.url,
        tenantId: sim.simulator.credentials.tenantId,
        clientId: sim.simulator.credentials.clientId,
        // A refused connection: the token request fails at once.
        authorityHost: 'https://127.0.0.1:1',
      },
      store: { kind: 'postgres' },
      log: { level: 'debug', format: 'json' },
    });
    const result = await runCli(
      ['doctor', '--config', config],
      cleanEnv({ CRM_SYNC_CLIENT_SECRET: secret, CRM_SYNC_DATABASE_URL: `postgres://crm:${password}@127.0.0.1:1/crm`, CRM_SYNC_API_TOKEN: 'api-token-never-printed-1234' }),
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAIL {2}store\s/m);
    expect(result.stdout).toMatch(/^FAIL {2}credentials\s/m);
    const all = result.stdout + result.stderr;
    for (const value of [secret, password, 'api-token-never-printed-1234']) expect(all).not.toContain(value);
  });

  it('names the token request and the authority host when the authority cannot be reached, not WhoAmI', async () => {
    const port = await closedPort();
    const { tenantId, clientId } = sim.simulator.credentials;
    const config = writeConfig({
      crm: { kind: 'dynamics', environmentUrl: sim.url, tenantId, clientId, authorityHost: `https://127.0.0.1:${port}` },
      store: { kind: 'memory' },
      log: { level: 'info', format: 'json' },
    });
    const requests = sim.control.requestLog().length;
    const result = await runCli(['doctor', '--config', config], cleanEnv({ CRM_SYNC_CLIENT_SECRET: 'secret-of-this-test' }));
    expect(result.code).toBe(1);
    const host = `127\\.0\\.0\\.1:${port}`;
    expect(result.stdout).toMatch(
      new RegExp(`^FAIL {2}credentials\\s+CRM_UNREACHABLE: \\[dynamics-adapter\\] Token request to the authority ${host} for client ${clientId} got no answer from ${host}: connect ECONNREFUSED ${host}$`, 'm'),
    );
    expect(result.stdout).toContain(`hint: No token: the sign-in authority 127.0.0.1:${port} did not answer. Check crm.authorityHost`);
    expect(result.stdout).toMatch(/^SKIP {2}whoami\s+needs credentials$/m);
    expect(result.stdout).not.toContain('WhoAmI');
    // Nothing reached the Web API.
    expect(sim.control.requestLog().length).toBe(requests);
  });

  it('fails sync and doctor with a message naming the credentials when the client secret is wrong, and never prints it', async () => {
    const wrong = 'wrong-secret-of-this-test-0123';
    const { clientId } = sim.simulator.credentials;
    // The simulator's own credentials, but the secret from the environment, as with a real org.
    const config = writeConfig(simulatorConfig(sim, { crm: { kind: 'simulator', url: sim.url, clientId, clientSecretEnv: 'SIM_CLIENT_SECRET' } }));
    const env = cleanEnv({ SIM_CLIENT_SECRET: wrong });
    const refused = new RegExp(`Token request to the authority login\\.microsoftonline\\.com for client ${clientId} was refused \\(invalid_client\\): AADSTS7000215: Invalid client secret provided`);

    const sync = await runCli(['sync', '--once', '--json', '--config', config], env);
    expect(sync.code).toBe(1);
    const errors = logLines(sync.stderr).filter((line) => line.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ msg: 'entity failed', code: 'CRM_AUTH_FAILED' });
    expect(errors[0]?.error).toMatch(refused);
    const summary = JSON.parse(sync.stdout) as { entities: { status: string }[] };
    expect(summary.entities.map((e) => e.status)).toEqual(['failed', 'not-run', 'not-run', 'not-run', 'not-run', 'not-run']);

    const doctor = await runCli(['doctor', '--config', config], env);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(new RegExp(`^FAIL {2}credentials\\s+CRM_AUTH_FAILED: .*${refused.source}`, 'm'));
    expect(doctor.stdout).toContain('hint: Check crm.tenantId, crm.clientId and the secret');
    for (const run of [sync, doctor]) expect(run.stdout + run.stderr).not.toContain(wrong);

    // The same config with the right secret signs in.
    const right = await runCli(['sync', '--once', '--entity', 'team', '--config', config], cleanEnv({ SIM_CLIENT_SECRET: sim.simulator.credentials.clientSecret }));
    expect(right.code).toBe(0);
  });
});

describe('crm-sync fields', () => {
  it('lists the fields of an entity with the reason for each one left out', async () => {
    const config = writeConfig(simulatorConfig(sim, { sync: { entities: { lead: { fields: ['firstname', 'lastname', 'subject'] } } } }));
    const json = await runCli(['fields', 'list', 'lead', '--json', '--config', config]);
    expect(json.code).toBe(0);
    const plan = JSON.parse(json.stdout) as { entity: string; synced: string[]; excluded: { field: string; reason: string }[] };
    expect(plan.entity).toBe('lead');
    expect(plan.synced).toEqual(expect.arrayContaining(['firstname', 'lastname', 'subject']));
    expect(plan.excluded).toContainEqual(expect.objectContaining({ field: 'companyname', reason: 'not-selected' }));
    const human = await runCli(['fields', 'list', 'contact', '--config', config]);
    expect(human.code).toBe(0);
    const secured = human.stdout.split('\n').find((line) => line.trim().startsWith('new_creditlimit ')) ?? '';
    expect(secured).toMatch(/new_creditlimit\s+secured by field security and the sync user has no read permission$/);
    // Each line says its reason once: the CRM's words when it gave any, else the generic text.
    expect(secured.match(/secured/g)).toHaveLength(1);
    expect(human.stdout).toMatch(/^\s+modifiedon\s+CRM bookkeeping column/m);
  });

  it('refuses an unknown entity with exit code 2, as sync --entity does', async () => {
    const config = writeConfig(simulatorConfig(sim));
    for (const args of [['fields', 'list', 'contactz'], ['fields', 'add', 'contactz', 'firstname']]) {
      const result = await runCli([...args, '--config', config]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('Unknown entity "contactz"; known: systemuser, team, account, contact, lead, opportunity');
    }
  });

  // Nine CLI processes and a first cycle: more than the default budget on a loaded 2-core machine.
  it('adds a field only when the next plan has it, says "already synced", and refuses with the reason (through a running runner)', async () => {
    const config = writeConfig(simulatorConfig(sim, { sync: { entities: { lead: { fields: ['firstname', 'lastname', 'subject'] } } } }));
    const runner = await startRunner(['--config', config]);
    try {
      const api = apiClient(runner.url);
      await eventually(async () => (await api.get('/api/v1/status')).json?.lastCycle, 60_000, 'the first cycle');
      const fields = (...args: string[]) => runCli(['fields', ...args, '--config', config, '--url', runner.url]);

      const added = await fields('add', 'lead', 'description');
      expect(added.code).toBe(0);
      expect(added.stdout).toMatch(/^Added lead\.description to the sync; Quick Sync backfilled [1-9]\d* records\.\n$/);
      const again = await fields('add', 'lead', 'description', '--json');
      expect(again.code).toBe(0);
      expect(JSON.parse(again.stdout)).toEqual({ entity: 'lead', field: 'description', backfilled: 0, alreadySynced: true });
      const synced = await fields('add', 'contact', 'firstname');
      expect(synced).toMatchObject({ code: 0, stdout: 'contact.firstname is already synced; nothing to add.\n' });

      // A bookkeeping column under the selection "all": naming it changed nothing, so it is refused.
      const bookkeeping = await fields('add', 'contact', 'modifiedon');
      expect(bookkeeping).toMatchObject({ code: 1, stdout: '' });
      expect(bookkeeping.stderr).toContain('FIELD_NOT_ADDABLE: contact.modifiedon is a CRM bookkeeping column, left out of the selection "all"');
      const plan = JSON.parse((await fields('list', 'contact', '--json')).stdout) as { synced: string[] };
      expect(plan.synced).not.toContain('modifiedon');
      const secured = await fields('add', 'contact', 'new_creditlimit');
      expect(secured.code).toBe(1);
      expect(secured.stderr).toContain('FIELD_NOT_READABLE: contact.new_creditlimit cannot be read by the sync user');
      const missing = await fields('add', 'contact', 'no_such_column');
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('contact.no_such_column does not exist in the CRM');
      const unknownEntity = await fields('list', 'contactz');
      expect(unknownEntity.code).toBe(2);
      expect(unknownEntity.stderr).toContain('Unknown entity "contactz"; known: systemuser, team, account, contact, lead, opportunity');

      // The API route answers alike: 422 with the code and the reason, 200 with a flag.
      const refused = await api.post('/api/v1/entities/contact/fields', { field: 'modifiedon' });
      expect(refused).toMatchObject({ status: 422, json: { error: { code: 'FIELD_NOT_ADDABLE', message: expect.stringContaining('bookkeeping column') } } });
      const already = await api.post('/api/v1/entities/lead/fields', { field: 'description' });
      expect(already).toMatchObject({ status: 200, json: { entity: 'lead', field: 'description', backfilled: 0, alreadySynced: true } });
    } finally {
      await runner.stop();
    }
  }, 180_000);

  it('refuses to add a field without a runner or a persistent store', async () => {
    const config = writeConfig(simulatorConfig(sim));
    const result = await runCli(['fields', 'add', 'lead', 'description', '--config', config]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('memory store');
    expect((await runCli(['fields', 'add', 'lead', '--config', config])).code).toBe(2);
  });
});

describe('crm-sync status', () => {
  it('says that no runner is running when the state lives in a runner process', async () => {
    const config = writeConfig(simulatorConfig(sim, { server: { port: 1 } }));
    const result = await runCli(['status', '--config', config]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No crm-sync runner answers at http://127.0.0.1:1');
  });
});

describe('crm-sync simulator', () => {
  it('runs the standalone simulated org until SIGTERM', async () => {
    const running = spawnCli(['simulator', '--port', '0', '--contacts', '50', '--seed', '9']);
    const match = await running.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const info = (await (await fetch(`${match[1]}/_simulator/info`)).json()) as { counts: Record<string, number> };
    expect(info.counts.contact).toBe(50);
    expect(running.stdout()).not.toContain('sim-secret');
    const result = await running.stop('SIGTERM');
    expect(result.code).toBe(0);
  });

  it('checks its options', async () => {
    const result = await runCli(['simulator', '--contacts', 'many']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--contacts');
  });
});
