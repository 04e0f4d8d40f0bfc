import type { SyncEvent } from '@crm-sync/core';
import { BUDGET_BUCKET_MS, BUDGET_WINDOW_MS, createSyncEngine, isSyncError } from '@crm-sync/core';
import { createMemoryStore } from '@crm-sync/memory-store';
import { createPostgresStore, migrate } from '@crm-sync/postgres-store';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { customEntities, fakeCrmWithMemoryStore } from '../src/harness.js';
import { manualTimer, settle } from '../src/manual-timer.js';

type BudgetEvent = Extract<SyncEvent, { type: 'request-budget' }>;
const START = Date.parse('2026-12-05T12:00:00.000Z');

describe('daily request budget', () => {
  it('near the cap the schedule slows down, at the cap it holds until the window frees room, and a cycle by hand is refused', async () => {
    const crm = await fakeCrmWithMemoryStore.crm();
    const store = createMemoryStore();
    let clock = START;
    const timer = manualTimer();
    const events: SyncEvent[] = [];
    const engine = createSyncEngine({
      adapter: crm.adapter, store, config: { intervalMs: 60_000, customEntities }, timer, now: () => new Date(clock),
      dailyRequestBudget: 1_000, onEvent: (e) => events.push(e),
    });
    const budgetEvents = () => events.filter((e): e is BudgetEvent => e.type === 'request-budget');
    const cycles = () => events.filter((e) => e.type === 'cycle-finished').length;
    try {
      // 50%: the plain interval, nothing said.
      engine.requests.count(500);
      engine.start();
      expect(await timer.next()).toBe(60_000);
      expect(cycles()).toBe(1);
      expect(budgetEvents()).toHaveLength(0);
      expect((await engine.requests.usage()).state).toBe('ok');

      // 90%: the wait doubles for each 5% above 80% (4x), and the event says so.
      engine.requests.count(400);
      timer.advance(60_000);
      clock += 60_000;
      await until(() => cycles() === 2);
      expect(await timer.next()).toBe(240_000);
      expect(budgetEvents()).toHaveLength(1);
      const slowed = budgetEvents()[0]!;
      expect(slowed).toMatchObject({ state: 'slowed', used: 900, budget: 1_000, waitMs: 240_000 });
      expect(slowed.detail).toMatch(/900 of 1,000 requests \(90%\).*slowed down \(next in 4 min\)/);
      expect(slowed.nextCycleAt).toBe(new Date(clock + 240_000).toISOString());

      // Spent: no cycle until the oldest requests leave the 24-hour window; a cycle by hand is refused, saying why.
      engine.requests.count(100);
      const refused = await engine.trigger().then(() => null, (error: unknown) => error);
      expect(isSyncError(refused, 'REQUEST_BUDGET_SPENT')).toBe(true);
      expect((refused as Error).message).toMatch(/1,000 of 1,000 requests \(100%\).*spent: no cycle starts until 2026-12-06T12:15:00.000Z/);
      timer.advance(240_000);
      clock += 240_000;
      await until(() => budgetEvents().length === 2);
      const spent = budgetEvents()[1]!;
      // Every request was counted in the 12:00-12:15 bucket: it leaves the window at 12:15 the next day.
      const roomAt = START + BUDGET_BUCKET_MS + BUDGET_WINDOW_MS;
      expect(spent).toMatchObject({ state: 'spent', used: 1_000, roomAt: new Date(roomAt).toISOString(), waitMs: roomAt - clock });
      expect(await timer.next()).toBe(roomAt - clock);
      expect(cycles()).toBe(2);

      // A day later the window has room again: the schedule goes on at the plain interval.
      clock = roomAt;
      timer.advance(roomAt);
      await until(() => cycles() === 3);
      expect(await timer.next()).toBe(60_000);
      expect((await engine.requests.usage())).toMatchObject({ used: 0, state: 'ok' });
      expect((await engine.trigger()).ok).toBe(true);
    } finally {
      await engine.stop();
      await crm.close();
    }
  });

  it('several runners on one store add up, and none overwrites another', async () => {
    const crm = await fakeCrmWithMemoryStore.crm();
    const store = createMemoryStore();
    const clock = { at: START };
    const make = (runnerId: string) => createSyncEngine({ adapter: crm.adapter, store, config: { customEntities }, runnerId, now: () => new Date(clock.at), dailyRequestBudget: 100 });
    const [a, b] = [make('runner-a'), make('runner-b')];
    try {
      a.requests.count(30);
      b.requests.count(20);
      await Promise.all([a.requests.flush(), b.requests.flush()]);
      a.requests.count(5);
      expect(await b.requests.usage()).toMatchObject({ used: 50, state: 'ok', share: 0.5, ownOnly: false });
      expect(await a.requests.usage()).toMatchObject({ used: 55 });
      expect(Object.keys(await store.listState!('requests:')).sort()).toEqual([`requests:${START}:runner-a`, `requests:${START}:runner-b`]);
      // 24 hours and one bucket later none of it counts.
      clock.at += BUDGET_WINDOW_MS + BUDGET_BUCKET_MS;
      expect(await a.requests.usage()).toMatchObject({ used: 0 });
    } finally {
      await a.stop();
      await b.stop();
      await crm.close();
    }
  });

  describe('on PostgreSQL', () => {
    const pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 4 });
    const schema = `budget_${process.pid}`;
    afterAll(async () => {
      await pool.query(`drop schema if exists "${schema}" cascade`);
      await pool.end();
    });

    it('the count survives a restart: a new engine on the same database sees the requests of the one before', async () => {
      await migrate(pool, schema);
      const crm = await fakeCrmWithMemoryStore.crm();
      try {
        const first = createSyncEngine({ adapter: crm.adapter, store: createPostgresStore({ pool, schema }), config: { customEntities }, runnerId: 'before', dailyRequestBudget: 1_000 });
        await first.runCycle();
        first.requests.count(850);
        // A graceful stop writes what was counted.
        await first.stop();

        const second = createSyncEngine({ adapter: crm.adapter, store: createPostgresStore({ pool, schema }), config: { customEntities }, runnerId: 'after', dailyRequestBudget: 1_000 });
        const usage = await second.requests.usage();
        expect(usage).toMatchObject({ used: 850, budget: 1_000, state: 'slowed', ownOnly: false });
        second.requests.count(150);
        await second.requests.flush();
        const refused = await second.runCycle().then(() => null, (error: unknown) => error);
        expect(isSyncError(refused, 'REQUEST_BUDGET_SPENT')).toBe(true);
        const { rows } = await pool.query<{ key: string; value: string }>(`select key, value from "${schema}".state where key like 'requests:%' order by key`);
        expect(rows.map((r) => [r.key.replace(/^requests:\d+:/, ''), r.value])).toEqual([['after', '150'], ['before', '850']]);
        await second.stop();
      } finally {
        await crm.close();
      }
    });
  });
});

/** Waits for the scheduler's work (store reads, a cycle) to get as far as `done`, without real timers. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i += 1) await settle();
  expect(done()).toBe(true);
}
