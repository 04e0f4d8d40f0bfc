import { describe, expect, it } from 'vitest';
import { createEntityRegistry } from '@crm-sync/core';
import { createMemoryStore } from '@crm-sync/memory-store';
import { USAGE } from '../src/cli/usage.js';
import { ENV_SETTING_NAMES } from '../src/config/env.js';
import { loadConfig, secretValues } from '../src/config/load.js';
import { tightenHeap } from '../src/heap.js';
import { toCsv } from '../src/http/csv.js';
import { isLoopback } from '../src/http/auth.js';
import { latestEntries } from '../src/http/tail.js';
import { createLogger } from '../src/log/logger.js';
import { progressLine } from '../src/log/progress.js';
import { createRedactor } from '../src/log/redactor.js';
import { changeTokenCheck, requestBudgetCheck } from '../src/commands/doctor.js';
import { crmPluginOptions } from '../src/config/schema.js';
import { createMetrics } from '../src/metrics.js';
import { statusReport } from '../src/status-report.js';
import { writeConfig } from './helpers/runner-process.js';

const failure = async (fn: () => unknown): Promise<string> => {
  try {
    await fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a failure');
};

describe('config', () => {
  it('is the demo without a file or a CRM in the environment', async () => {
    const loaded = await loadConfig({ env: {} });
    expect(loaded.demo).toBe(true);
    expect(loaded.config.crm).toMatchObject({ kind: 'simulator', contacts: 12_000, largeAccounts: [5_001] });
    expect(loaded.config.sync.intervalMs).toBe(30_000);
    expect(loaded.config.server).toMatchObject({ host: '127.0.0.1', port: 8787 });
    expect(loaded.config.store).toEqual({ kind: 'memory' });
  });

  it('lists every variable that overrides a setting in the usage text', async () => {
    const listed = USAGE.slice(USAGE.indexOf('Environment:'));
    expect(ENV_SETTING_NAMES.filter((name) => !listed.includes(name))).toEqual([]);
  });

  it('is the demo on PostgreSQL when a database URL is in the environment', async () => {
    const loaded = await loadConfig({ env: { CRM_SYNC_DATABASE_URL: 'postgres://crm@localhost/crm' } });
    expect(loaded.demo).toBe(true);
    expect(loaded.config.crm).toMatchObject({ kind: 'simulator' });
    expect(loaded.config.store).toMatchObject({ kind: 'postgres', schema: 'crm_sync' });
    expect(secretValues(loaded.secrets)).toContain('postgres://crm@localhost/crm');
  });

  it('takes Dynamics, PostgreSQL and the server from the environment, secrets included', async () => {
    const loaded = await loadConfig({
      env: {
        CRM_SYNC_ENVIRONMENT_URL: 'https://contoso.crm.dynamics.com',
        CRM_SYNC_TENANT_ID: 'tenant',
        CRM_SYNC_CLIENT_ID: 'client',
        CRM_SYNC_CLIENT_SECRET: 'the-secret',
        DATABASE_URL: 'postgres://crm:p%40ss@db:5432/crm',
        CRM_SYNC_PORT: '9000',
        CRM_SYNC_INTERVAL_MS: '60000',
      },
    });
    expect(loaded.demo).toBe(false);
    expect(loaded.config.crm).toMatchObject({ kind: 'dynamics', environmentUrl: 'https://contoso.crm.dynamics.com', clientId: 'client' });
    expect(loaded.config.store).toMatchObject({ kind: 'postgres', schema: 'crm_sync' });
    expect(loaded.config.server.port).toBe(9000);
    expect(loaded.config.sync.intervalMs).toBe(60_000);
    expect(secretValues(loaded.secrets)).toEqual(expect.arrayContaining(['the-secret', 'p%40ss', 'p@ss']));
    expect(JSON.stringify(loaded.config)).not.toContain('the-secret');
  });

  it('lets the file name the variables that hold secrets, and flags override the environment', async () => {
    const path = writeConfig({
      crm: { kind: 'dynamics', environmentUrl: 'https://contoso.crm.dynamics.com', tenantId: 't', clientId: 'c', clientSecretEnv: 'MY_SECRET' },
      store: { kind: 'postgres', urlEnv: 'MY_DB', schema: 'org_a' },
      server: { apiTokenEnv: 'MY_TOKEN' },
    });
    const loaded = await loadConfig({
      path,
      env: { MY_SECRET: 's3cret', MY_DB: 'postgres://localhost/db', MY_TOKEN: 'token-of-sixteen-chars', CRM_SYNC_PORT: '1' },
      flags: [{ path: ['server', 'port'], value: '2', from: '--port' }],
    });
    expect(loaded.secrets).toEqual({ plugins: ['s3cret', 'postgres://localhost/db'], apiToken: 'token-of-sixteen-chars' });
    expect(loaded.config.server.port).toBe(2);
  });

  it('gives a simulator explicit credentials, the secret from the variable it names, and refuses them with a static token', async () => {
    const path = writeConfig({ crm: { kind: 'simulator', url: 'http://127.0.0.1:8080', clientSecretEnv: 'SIM_SECRET' } });
    const loaded = await loadConfig({ path, env: { SIM_SECRET: 'sim-s3cret', CRM_SYNC_TENANT_ID: 'tenant-x', CRM_SYNC_CLIENT_ID: 'client-x' } });
    // The tenant and client ids of the environment are the simulator's credentials: no switch to Dynamics.
    expect(loaded.config.crm).toMatchObject({ kind: 'simulator', tenantId: 'tenant-x', clientId: 'client-x', clientSecretEnv: 'SIM_SECRET' });
    expect(loaded.secrets.plugins).toEqual(['sim-s3cret']);
    expect(await failure(() => loadConfig({ path, env: {} }))).toContain('crm.clientSecretEnv: environment variable SIM_SECRET is not set');
    const staticToken = writeConfig({ crm: { kind: 'simulator', auth: 'static-token', clientId: 'c' } });
    expect(await failure(() => loadConfig({ path: staticToken, env: {} }))).toContain('crm.clientId: client credentials need crm.auth "client-credentials"');
    // Without a file, or with the environment URL, the variables still mean Dynamics.
    expect((await loadConfig({ path, env: { CRM_SYNC_CLIENT_SECRET: 's', CRM_SYNC_ENVIRONMENT_URL: 'https://contoso.crm.dynamics.com', CRM_SYNC_TENANT_ID: 't', CRM_SYNC_CLIENT_ID: 'c' } })).config.crm.kind).toBe('dynamics');
  });

  it('reports every problem with its path and where an override came from', async () => {
    const path = writeConfig({ crm: { kind: 'nope' }, log: { level: 'loud' }, extra: 1 });
    const message = await failure(() => loadConfig({ path, env: { CRM_SYNC_PORT: 'x' } }));
    expect(message).toContain(`Invalid configuration (${path})`);
    expect(message).toMatch(/crm\.kind: /);
    expect(message).toMatch(/log\.level: /);
    expect(message).toMatch(/server\.port: .*\(from CRM_SYNC_PORT\)/);
    expect(message).toMatch(/\(root\): .*extra/);
  });

  it('refuses a short API token and a store without a database URL, without echoing values', async () => {
    const message = await failure(() => loadConfig({ path: writeConfig({ store: { kind: 'postgres' } }), env: { CRM_SYNC_API_TOKEN: 'short-tok' } }));
    expect(message).toContain('at least 16 characters');
    expect(message).toContain('needs a database URL');
    expect(message).not.toContain('short-tok');
    expect(await failure(() => loadConfig({ path: writeConfig('{ not json'), env: {} }))).toContain('not valid JSON');
  });

  it('suggests the key or the entity a typo meant, and lists the known keys when nothing is close', async () => {
    const path = writeConfig({ sync: { intervall: 60_000, entities: { contactz: { enabled: false } } }, servre: { port: 1 } });
    const message = await failure(() => loadConfig({ path, env: {} }));
    expect(message).toContain('sync: unknown key "intervall"; did you mean "intervalMs"?');
    expect(message).toContain('(root): unknown key "servre"; did you mean "server"?');
    expect(message).toMatch(/sync\.entities\.contactz: unknown entity.*; did you mean "contact"\?/);
    const far = await failure(() => loadConfig({ path: writeConfig({ crm: { kind: 'simulator', colour: 'red' } }), env: {} }));
    expect(far).toMatch(/crm: unknown key "colour"; known keys: kind, dailyRequestBudget, url, auth, pageSize, seed, contacts/);
  });

  it('takes crm.dailyRequestBudget for any CRM, keeps it from the plugin, and names the path of a bad one', async () => {
    const loaded = await loadConfig({ path: writeConfig({ crm: { kind: 'simulator', contacts: 10, dailyRequestBudget: 20_000 } }), env: {} });
    expect(loaded.config.crm).toMatchObject({ kind: 'simulator', dailyRequestBudget: 20_000 });
    // The simulator plugin's strict options never see it.
    expect(crmPluginOptions(loaded.config.crm)).not.toHaveProperty('dailyRequestBudget');
    const { kind: _kind, ...pluginOwn } = crmPluginOptions(loaded.config.crm);
    expect(loaded.plugins.crm.options.safeParse(pluginOwn).success).toBe(true);
    const dynamics = await loadConfig({
      path: writeConfig({ crm: { kind: 'dynamics', environmentUrl: 'https://contoso.crm.dynamics.com', tenantId: 't', clientId: 'c', dailyRequestBudget: 5_000 } }),
      env: { CRM_SYNC_CLIENT_SECRET: 'a-secret-value' },
    });
    expect(dynamics.config.crm).toMatchObject({ kind: 'dynamics', dailyRequestBudget: 5_000 });
    for (const [bad, problem] of [[0, 'must be at least 1'], [1.5, 'whole number'], ['lots', 'whole number']] as const) {
      const message = await failure(() => loadConfig({ path: writeConfig({ crm: { kind: 'simulator', dailyRequestBudget: bad } }), env: {} }));
      expect(message).toMatch(new RegExp(`crm\\.dailyRequestBudget: .*${problem}`));
    }
    const typo = await failure(() => loadConfig({ path: writeConfig({ crm: { kind: 'simulator', dailyRequestBudgte: 10 } }), env: {} }));
    expect(typo).toContain('crm: unknown key "dailyRequestBudgte"; did you mean "dailyRequestBudget"?');
  });

  it('reports bad JSON by line and column', async () => {
    const text = '{\n  "sync": {\n    "intervalMs": 60000\n    "pageSize": 100\n  }\n}\n';
    expect(await failure(() => loadConfig({ path: writeConfig(text), env: {} }))).toContain(
      "(file): not valid JSON at line 4, column 5: expected ',' or '}' after a property value, found \"\\\"\"",
    );
    expect(await failure(() => loadConfig({ path: writeConfig('{\n  "crm": { "kind": "simulator", },\n}'), env: {} }))).toContain(
      'at line 2, column 33: expected a property name in double quotes, found "}"',
    );
    expect(await failure(() => loadConfig({ path: writeConfig('{ "crm": '), env: {} }))).toContain('at line 1, column 10: expected a value, the file ends');
  });
});

describe('redaction', () => {
  it('hides every known secret, in plain text, JSON and URLs, and unknown bearer tokens', () => {
    const redactor = createRedactor(['s3cr"et-value']);
    redactor.add('p@ss word', undefined, 'ab');
    const text = redactor.redact(`a s3cr"et-value b ${JSON.stringify({ v: 's3cr"et-value' })} postgres://u:${encodeURIComponent('p@ss word')}@h ab Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x.y`);
    expect(text).not.toContain('s3cr');
    expect(text).not.toContain('p%40ss');
    expect(text).not.toContain('eyJhbGci');
    expect(text).toContain(' ab ');
    expect(text.match(/\[redacted\]/g)).toHaveLength(4);
  });

  it('applies to every log line', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', format: 'json', stream: { write: (t: string) => lines.push(t) }, redactor: createRedactor(['hunter22-secret']) });
    logger.debug('connecting', { url: 'https://x/?key=hunter22-secret', error: new Error('bad hunter22-secret') });
    logger.info('fine');
    expect(lines).toHaveLength(2);
    expect(lines.join('')).not.toContain('hunter22');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'debug', msg: 'connecting', error: { name: 'Error', message: 'bad [redacted]' } });
  });

  it('filters by level and rewrites one progress line on a terminal', () => {
    const out: string[] = [];
    const logger = createLogger({ level: 'info', format: 'text', stream: { write: (t: string) => out.push(t), isTTY: true }, redactor: createRedactor() });
    logger.debug('hidden');
    logger.progress('contact: 1 page');
    logger.progress('contact: 2 pages');
    logger.info('done', { n: 1 });
    expect(out.join('')).not.toContain('hidden');
    expect(out.filter((t) => t.startsWith('\r\x1b[2K') && t.includes('contact'))).toHaveLength(2);
    expect(out.at(-1)).toMatch(/INFO {2}done n=1\n$/);
  });
});

describe('progress', () => {
  it('shows pages, records, rate and an ETA when the total is known', () => {
    expect(progressLine({ entity: 'contact', pages: 3, records: 15_000, perSecond: 5_000, total: 100_000 })).toBe(
      'contact: 3 pages, 15,000 of 100,000 records, 5,000 records/s, ETA 17s',
    );
    expect(progressLine({ entity: 'lead', pages: 1, records: 10, perSecond: 10 })).toBe('lead: 1 page, 10 records, 10 records/s');
  });
});

describe('HTTP helpers', () => {
  it('writes CSV that spreadsheets cannot run as formulas', () => {
    expect(toCsv(['a', 'b'], [['x,y', '=SUM(A1)'], [null, { k: 'v"' }]])).toBe('a,b\r\n"x,y",\'=SUM(A1)\r\n,"{""k"":""v\\""""}"\r\n');
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '192.168.1.2', '::', 'example.com'].some(isLoopback)).toBe(false);
  });

  it('finds the newest entries of a log that pages forwards only', async () => {
    const store = createMemoryStore();
    const activities = Array.from({ length: 3_000 }, (_, i) => ({
      entity: i % 3 === 0 ? 'lead' : 'contact', recordId: `r${i}`, type: 'new-person' as const, source: 'crm' as const,
    }));
    await store.commit({ entity: 'contact', activities });
    const latest = await latestEntries((o) => store.listActivities(o), 5);
    expect(latest.map((a) => a.recordId)).toEqual(['r2999', 'r2998', 'r2997', 'r2996', 'r2995']);
    const leads = await latestEntries((o) => store.listActivities({ entity: 'lead', ...o }), 3);
    expect(leads.map((a) => a.recordId)).toEqual(['r2997', 'r2994', 'r2991']);
    expect(await latestEntries((o) => store.listActivities({ entity: 'account', ...o }), 3)).toEqual([]);
  });
});

describe('heap growth', () => {
  it('is tightened unless the node options set it, which then win', () => {
    expect(tightenHeap(['--heap-growing-percent=50'], '')).toBe(false);
    expect(tightenHeap([], '--max-old-space-size=512 --heap_growing_percent=10')).toBe(false);
    expect(tightenHeap(['--enable-source-maps'], '--max-old-space-size=512')).toBe(true);
  });
});

describe('change-token age in status and metrics', () => {
  it('shows each entity\'s last complete read, and flags the ones older than sync.changeTokenWarnAfterMs', async () => {
    const store = createMemoryStore();
    const day = 86_400_000;
    // The engine writes this state when an entity's pull is read to its end (the e2e token-age test covers that).
    await store.commit({ entity: 'contact', state: { 'pull:last-read:contact': new Date(Date.now() - 6 * day).toISOString() } });
    await store.commit({ entity: 'lead', state: { 'pull:last-read:lead': new Date(Date.now() - day).toISOString() } });
    const loaded = await loadConfig({ env: {} });
    expect(loaded.config.sync.changeTokenWarnAfterMs).toBe(5 * day);
    const registry = createEntityRegistry();
    const report = await statusReport({
      config: loaded.config, demo: true, crm: { kind: 'simulator', url: 'simulated' }, registry, entities: ['contact', 'lead', 'account'], store,
      storeDescription: 'memory', history: null, state: null,
    });
    const token = (entity: string) => report.entities.find((e) => e.entity === entity)?.changeToken;
    expect(token('contact')).toMatchObject({ old: true });
    expect(token('contact')?.ageMs).toBeGreaterThanOrEqual(6 * day);
    expect(token('lead')).toMatchObject({ old: false });
    expect(token('account')).toEqual({ lastReadAt: null, ageMs: null, old: false });

    const metrics = createMetrics(store, ['contact', 'lead', 'account'], loaded.config.sync.changeTokenWarnAfterMs);
    const text = await metrics.render();
    expect(text).toMatch(/^crm_sync_change_token_old\{entity="contact"\} 1$/m);
    expect(text).toMatch(/^crm_sync_change_token_old\{entity="lead"\} 0$/m);
    expect(text).toMatch(/^crm_sync_change_token_age_seconds\{entity="contact"\} 5184\d\d$/m);
    // Never read: no age to report.
    expect(text).not.toMatch(/crm_sync_change_token_age_seconds\{entity="account"\}/);

    const warned = await changeTokenCheck(store, loaded.config, new Date());
    expect(warned).toMatchObject({ name: 'change tokens', status: 'warn', hint: expect.stringContaining('crm-sync start') });
    expect(warned.detail).toMatch(/^contact: the last complete read was 6\.0 days ago/);
    expect(warned.detail).not.toMatch(/lead/);
    // Once the contact is read again, every entity passes.
    await store.commit({ entity: 'contact', state: { 'pull:last-read:contact': new Date().toISOString() } });
    expect(await changeTokenCheck(store, loaded.config, new Date())).toMatchObject({ status: 'pass' });
  });
});

describe('daily request budget in status, metrics and doctor', () => {
  it('reads the rolling count every runner left in the store, against crm.dailyRequestBudget, and says when it slows cycles down', async () => {
    const store = createMemoryStore();
    const bucket = Math.floor(Date.now() / 900_000) * 900_000;
    // Two runners' counts, as their engines keep them (the e2e request-budget test covers the writing).
    await store.commit({ entity: 'requests', state: { [`requests:${bucket}:runner-a`]: '6000', [`requests:${bucket}:runner-b`]: '2700', [`requests:${bucket - 3 * 86_400_000}:old`]: '99999' } });
    const loaded = await loadConfig({ path: writeConfig({ crm: { kind: 'simulator', dailyRequestBudget: 10_000 } }), env: {} });
    const report = await statusReport({
      config: loaded.config, demo: false, crm: { kind: 'simulator', url: 'simulated' }, registry: createEntityRegistry(), entities: ['contact'], store,
      storeDescription: 'memory', history: null, state: null, engine: null,
    });
    expect(report.requests).toMatchObject({ used: 8_700, budget: 10_000, state: 'slowed', roomAt: null, ownOnly: false });
    expect(report.requests.detail).toMatch(/8,700 of 10,000 requests \(87%\) in the last 24 hours; above 80%: cycles slowed down/);
    expect(report.parallelism).toBeNull();

    const metrics = createMetrics(store, ['contact'], undefined, {
      usage: () => Promise.resolve(report.requests),
      runners: () => 2,
    });
    metrics.onCrmEvent({ type: 'request', status: 200, parallelism: 8, concurrency: 4 });
    const text = await metrics.render();
    expect(text).toMatch(/^crm_sync_daily_requests 8700$/m);
    expect(text).toMatch(/^crm_sync_daily_request_budget 10000$/m);
    expect(text).toMatch(/^crm_sync_request_budget_slowed 1$/m);
    expect(text).toMatch(/^crm_sync_request_budget_spent 0$/m);
    expect(text).toMatch(/^crm_sync_crm_parallelism_recommended 8$/m);
    expect(text).toMatch(/^crm_sync_crm_concurrency 4$/m);
    expect(text).toMatch(/^crm_sync_runners_sharing_org 2$/m);

    const warned = await requestBudgetCheck(store, loaded.config, new Date());
    expect(warned).toMatchObject({ name: 'daily request budget', status: 'warn', hint: expect.stringContaining('crm.dailyRequestBudget') });
    // Without a cap the count is shown and nothing is slowed.
    const uncapped = await loadConfig({ path: writeConfig({ crm: { kind: 'simulator' } }), env: {} });
    const passed = await requestBudgetCheck(store, uncapped.config, new Date());
    expect(passed).toMatchObject({ status: 'pass', detail: 'daily request budget: 8,700 requests in the last 24 hours' });
  });
});
