import { describe, expect, it } from 'vitest';
import { apiClient, eventually } from './helpers/http.js';
import { cleanEnv, startRunner } from './helpers/runner-process.js';

describe('crm-sync start without any config (the demo of pnpm start)', () => {
  it('runs a seeded simulated org, syncs it, serves the dashboard, and its sales staff edit the CRM', async () => {
    const runner = await startRunner(['--port', '0'], cleanEnv({ CRM_SYNC_LOG_FORMAT: 'json' }));
    try {
      expect(runner.stdout()).toContain('crm-sync demo is running');
      const api = apiClient(runner.url);
      const page = await fetch(`${runner.url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>crm-sync</title>');
      const cycle = await eventually(async () => (await api.get('/api/v1/status')).json?.lastCycle, 60_000, 'the first cycle');
      expect(cycle.ok).toBe(true);
      const status = (await api.get('/api/v1/status')).json;
      expect(status.runner).toMatchObject({ demo: true, crm: { kind: 'simulator' }, store: { kind: 'memory' }, intervalMs: 30_000, scheduled: true });
      const records = Object.fromEntries(status.entities.map((e: { entity: string; stats: { records: number } }) => [e.entity, e.stats.records]));
      expect(records.contact).toBeGreaterThan(10_000);
      expect(records.new_membership).toBeGreaterThan(0);
      // A salesperson changes a CRM row now and then; the next cycle brings it in.
      await runner.waitFor(/"msg":"demo: CRM edit by sales staff"/, 30_000);
      expect((await api.post('/api/v1/cycles', {})).status).toBe(200);
      const [, ...later] = (await api.get('/api/v1/cycles')).json.items as { entities: { pulled: number }[] }[];
      const pulled = later.flatMap((c) => c.entities).reduce((n, e) => n + e.pulled, 0);
      expect(pulled).toBeGreaterThan(0);
    } finally {
      const result = await runner.stop('SIGINT');
      expect(result.code).toBe(0);
    }
  });
});
