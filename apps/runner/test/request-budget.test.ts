import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatorServer } from '@crm-sync/dynamics-simulator';
import { apiClient } from './helpers/http.js';
import { cleanEnv, logLines, runCli, startRunner, writeConfig } from './helpers/runner-process.js';
import { simulatorConfig, startTestSimulator } from './helpers/simulator.js';

let sim: SimulatorServer;
beforeAll(async () => {
  sim = await startTestSimulator({ seed: 41, contacts: 300, leads: 60, accounts: 30, opportunities: 10, memberships: 5 });
});
afterAll(async () => sim?.close());

/** Web API requests the simulated org has answered so far (the sign-in and the simulator's info page are not Web API requests). */
const answered = () => sim.control.requestLog().filter((e) => new URL(e.url, 'http://simulator').pathname.startsWith('/api/data/')).length;

/** `crm-sync status --json` without a runner: read from the store. */
async function statusFromStore(config: string) {
  const status = await runCli(['status', '--json', '--config', config], cleanEnv(), 60_000);
  expect(status.code, status.stderr).toBe(0);
  return JSON.parse(status.stdout) as { source: string; requests: { used: number; budget: number | null; state: string; detail: string; roomAt: string | null } };
}

describe('daily request budget (crm.dailyRequestBudget)', () => {
  it('counts every request in the store across restarts, slows cycles near the cap, and refuses a cycle by hand once spent', async () => {
    // One data directory for every config below (each config file lives in a folder of its own).
    const dataDir = join(mkdtempSync(join(tmpdir(), 'crm-sync-budget-')), 'data');
    const base = simulatorConfig(sim, { store: { kind: 'embedded', dataDir } });
    const config = writeConfig(base);

    // Two runs, two processes: the count is the store's, so the second adds to the first.
    const first = await runCli(['sync', '--once', '--json', '--config', config], cleanEnv(), 120_000);
    expect(first.code, first.stderr).toBe(0);
    const afterFirst = answered();
    expect((await statusFromStore(config)).requests).toMatchObject({ used: afterFirst, budget: null, state: 'ok' });
    const second = await runCli(['sync', '--once', '--json', '--config', config], cleanEnv(), 120_000);
    expect(second.code, second.stderr).toBe(0);
    const used = answered();
    expect(used).toBeGreaterThan(afterFirst);
    const report = await statusFromStore(config);
    expect(report.source).toMatch(/^store /);
    expect(report.requests).toMatchObject({ used, budget: null, state: 'ok' });
    expect(report.requests.detail).toBe(`daily request budget: ${used} requests in the last 24 hours`);

    // Near the cap: the runner runs its cycle, then waits longer than the interval and says so. A
    // quiet cycle costs what the second run did: after it, about 90% of this budget is used.
    const quiet = used - afterFirst;
    const nearCap = writeConfig({ ...base, crm: { ...base.crm, dailyRequestBudget: Math.ceil((used + quiet) / 0.9) } });
    const runner = await startRunner(['--config', nearCap], cleanEnv());
    const api = apiClient(runner.url);
    try {
      await runner.waitFor(/"msg":"daily request budget: .*cycles slowed down/, 60_000);
      const slowed = (await api.get('/api/v1/status')).json;
      expect(slowed.requests.state).toBe('slowed');
      expect(slowed.requests.used).toBe(answered());
      expect(slowed.requests.budgetWaitMs).toBeGreaterThan(600_000);
      expect(Date.parse(slowed.runner.nextCycleAt) - Date.now()).toBeGreaterThan(600_000);
      const metrics = (await api.get('/metrics')).text;
      expect(metrics).toMatch(new RegExp(`^crm_sync_daily_requests ${answered()}$`, 'm'));
      expect(metrics).toMatch(/^crm_sync_request_budget_slowed 1$/m);
      expect(metrics).toMatch(/^crm_sync_request_budget_spent 0$/m);
      // The simulator sends x-ms-dop-hint: the runner shows it and its share (it is alone on the store).
      expect(metrics).toMatch(/^crm_sync_crm_parallelism_recommended \d+$/m);
      expect(metrics).toMatch(/^crm_sync_runners_sharing_org 1$/m);
      expect(slowed.parallelism).toMatchObject({ runnersSharingOrg: 1, recommended: expect.any(Number), concurrency: expect.any(Number) });
      const slowLine = logLines(runner.stderr()).find((l) => String(l.msg).includes('slowed down'));
      expect(slowLine).toMatchObject({ level: 'warn', nextCycleAt: slowed.runner.nextCycleAt });
    } finally {
      expect((await runner.stop('SIGINT')).code).toBe(0);
    }

    // Spent: no cycle by hand, from the CLI or the API; the scheduler holds and says until when.
    const spent = writeConfig({ ...base, crm: { ...base.crm, dailyRequestBudget: answered() } });
    const refused = await runCli(['sync', '--once', '--config', spent], cleanEnv(), 60_000);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/REQUEST_BUDGET_SPENT/);
    expect(refused.stderr).toMatch(/No cycle started: the daily request budget: \d+ of \d+ requests \(100%\) in the last 24 hours; spent: no cycle starts until \d{4}-\d\d-\d\dT/);
    expect(refused.stderr).toContain('crm.dailyRequestBudget');
    expect((await statusFromStore(spent)).requests.state).toBe('spent');
    const before = answered();
    const held = await startRunner(['--config', spent], cleanEnv());
    try {
      await held.waitFor(/"msg":"daily request budget: .*spent: no cycle starts until/, 60_000);
      const api2 = apiClient(held.url);
      const trigger = await api2.post('/api/v1/cycles', { wait: false });
      expect(trigger.status).toBe(429);
      expect(trigger.json.error).toMatchObject({ code: 'REQUEST_BUDGET_SPENT', message: expect.stringContaining('no cycle starts until') });
      const status = (await api2.get('/api/v1/status')).json;
      expect(status.requests).toMatchObject({ state: 'spent', roomAt: expect.any(String) });
      expect(status.runner.nextCycleAt).toBe(status.requests.roomAt);
      expect((await api2.get('/metrics')).text).toMatch(/^crm_sync_request_budget_spent 1$/m);
      // Nothing went to the CRM and no cycle ran.
      expect(logLines(held.stderr()).filter((l) => l.msg === 'cycle finished')).toHaveLength(0);
      expect(answered()).toBe(before);
    } finally {
      expect((await held.stop('SIGINT')).code).toBe(0);
    }
  }, 300_000);
});
