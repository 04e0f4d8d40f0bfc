import type { CrmAdapter, EntityDefinition, SyncEvent } from '@crm-sync/core';
import { createSyncEngine, SyncError } from '@crm-sync/core';
import { afterEach, describe, expect, it } from 'vitest';
import { customEntities, fakeCrmWithMemoryStore } from '../src/harness.js';
import type { World } from '../src/world.js';
import { createWorld, newId } from '../src/world.js';

/**
 * Cycles that stop before their end: a failure of the whole CRM connection stops the cycle at the
 * first entity that meets it, and the entities left say why they did not run.
 */

/** The CRM becomes unreachable when the engine first asks anything about `entity`: every call from then on fails. */
function goesDownAt(adapter: CrmAdapter, entity: string) {
  const callsAfter: string[] = [];
  let down = false;
  let recovered = false;
  const unreachable = () =>
    new SyncError('CRM_UNREACHABLE', '[dynamics-adapter] GET /api/data/v9.2/accounts could not reach crm.example: connect ECONNREFUSED 10.0.0.1:443', {
      details: { scope: 'org' },
    });
  const wrapped = new Proxy(adapter, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function' || property === 'close') return value;
      return (...args: unknown[]) => {
        const name = (args[0] as EntityDefinition | undefined)?.name;
        if (name === entity && !recovered) down = true;
        if (down) {
          callsAfter.push(`${String(property)} ${name ?? ''}`);
          throw unreachable();
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const recover = () => {
    down = false;
    recovered = true;
  };
  return { adapter: wrapped, callsAfter, recover };
}

describe('a failure of the whole CRM connection', () => {
  let world: World;
  afterEach(async () => world?.close());

  it('stops the cycle at the first entity that meets it: one failure, the others not run, and the next cycle syncs them', async () => {
    world = await createWorld(fakeCrmWithMemoryStore);
    for (let i = 0; i < 3; i += 1) {
      await world.crm.put('contact', newId(), { firstname: `C${i}` });
      await world.crm.put('lead', newId(), { firstname: `L${i}` });
    }
    const crm = goesDownAt(world.crm.adapter, 'account');
    const events: SyncEvent[] = [];
    const engine = createSyncEngine({ adapter: crm.adapter, store: world.store, config: { customEntities }, onEvent: (e) => events.push(e) });
    const summary = await engine.runCycle();

    expect(summary.ok).toBe(false);
    const status = Object.fromEntries(summary.entities.map((e) => [e.entity, e.status]));
    expect(status).toEqual({
      systemuser: 'not-run', team: 'not-run', account: 'failed', contact: 'not-run', lead: 'not-run', opportunity: 'not-run', new_membership: 'not-run',
    });
    const account = summary.entities.find((e) => e.entity === 'account');
    expect(account?.error).toEqual({ code: 'CRM_UNREACHABLE', message: expect.stringContaining('connect ECONNREFUSED 10.0.0.1:443') });
    for (const run of summary.entities.filter((e) => e.status === 'not-run')) {
      expect(run.error, run.entity).toEqual({
        code: 'CRM_UNREACHABLE',
        message: 'not run: the cycle stopped when account failed with CRM_UNREACHABLE, a failure of the whole CRM connection',
      });
      expect(run.pulled, run.entity).toBe(0);
    }
    // One failure reported, and the CRM asked nothing more once it was down.
    expect(events.filter((e) => e.type === 'entity-failed')).toHaveLength(1);
    expect(crm.callsAfter).toHaveLength(1);

    crm.recover();
    const next = await engine.runCycle();
    expect(next.ok).toBe(true);
    expect((await world.store.stats('contact')).records).toBe(3);
    expect((await world.store.stats('lead')).records).toBe(3);
  });

  it('lets the other entities run when a failure concerns one entity only', async () => {
    world = await createWorld(fakeCrmWithMemoryStore);
    await world.crm.put('lead', newId(), { firstname: 'L' });
    const denied = new Proxy(world.crm.adapter, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property);
        if (property !== 'pullChanges') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        return (entity: EntityDefinition, request: unknown) => {
          if (entity.name === 'contact') throw new SyncError('CRM_AUTH_FAILED', 'GET contacts was refused with 403: the sync user lacks a privilege');
          return (value as (e: EntityDefinition, r: unknown) => unknown).call(target, entity, request);
        };
      },
    });
    const engine = createSyncEngine({ adapter: denied, store: world.store, config: { customEntities } });
    const summary = await engine.runCycle();
    const status = Object.fromEntries(summary.entities.map((e) => [e.entity, e.status]));
    expect(status).toMatchObject({ contact: 'failed', lead: 'ok', account: 'ok', opportunity: 'ok' });
    expect((await world.store.stats('lead')).records).toBe(1);
  });
});

describe('a graceful stop', () => {
  let world: World;
  afterEach(async () => world?.close());

  it('is an interrupted cycle, not a failed one: entities finished before the stop are ok, the others interrupted, and the next cycle completes them', async () => {
    world = await createWorld(fakeCrmWithMemoryStore, { pagesPerTurn: 1 });
    // Contacts of more pages than one turn, so the stop lands in the middle of them.
    for (let i = 0; i < 400; i += 1) await world.crm.put('contact', newId(), { firstname: `C${i}` });
    for (let i = 0; i < 3; i += 1) await world.crm.put('lead', newId(), { firstname: `L${i}` });
    const controller = new AbortController();
    const events: SyncEvent[] = [];
    const engine = createSyncEngine({
      adapter: world.crm.adapter, store: world.store, config: { customEntities, pagesPerTurn: 1 },
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'page-applied' && e.entity === 'contact' && e.pages === 2) controller.abort();
      },
    });
    const summary = await engine.runCycle({ signal: controller.signal });

    expect(summary.interrupted).toBe(true);
    expect(summary.ok).toBe(false);
    const status = Object.fromEntries(summary.entities.map((e) => [e.entity, e.status]));
    // Pulled to their end before the stop (one page each, one-way): finished.
    expect(status).toMatchObject({ systemuser: 'ok', team: 'ok', account: 'ok' });
    // Stopped in the middle (contact) or before their pull ended (the rest).
    expect(status).toMatchObject({ contact: 'interrupted', lead: 'interrupted', opportunity: 'interrupted', new_membership: 'interrupted' });
    for (const run of summary.entities) expect(run.error, run.entity).toBeUndefined();
    expect(events.filter((e) => e.type === 'entity-failed')).toEqual([]);
    const contacts = summary.entities.find((e) => e.entity === 'contact');
    expect((await world.store.stats('contact')).records).toBe(contacts?.pulled);
    expect(contacts?.pulled).toBeLessThan(400);

    const next = await engine.runCycle();
    expect(next).toMatchObject({ ok: true, interrupted: false });
    expect((await world.store.stats('contact')).records).toBe(400);
    expect((await world.store.stats('lead')).records).toBe(3);
  });

  it('leaves an entity read to its end interrupted while its local changes wait to be pushed, and ok when nothing waits', async () => {
    world = await createWorld(fakeCrmWithMemoryStore);
    const lead = newId();
    await world.crm.put('lead', lead, { firstname: 'Before' });
    await world.cycle();
    await world.engine.editLocal('lead', lead, { fields: { firstname: 'Local' } });
    const controller = new AbortController();
    const engine = createSyncEngine({
      adapter: world.crm.adapter, store: world.store, config: { customEntities }, runnerId: world.engine.runnerId,
      // Every entity has been read; the stop comes after the first push (contact, before lead).
      onEvent: (e) => {
        if (e.type === 'pushed') controller.abort();
      },
    });
    const summary = await engine.runCycle({ signal: controller.signal });
    const status = Object.fromEntries(summary.entities.map((e) => [e.entity, e.status]));
    expect(status).toEqual({
      systemuser: 'ok', team: 'ok', account: 'ok', contact: 'ok', lead: 'interrupted', opportunity: 'ok', new_membership: 'ok',
    });
    expect(summary.interrupted).toBe(true);
    expect((await world.crm.get('lead', lead))?.firstname).toBe('Before');
    const next = await engine.runCycle();
    expect(next.ok).toBe(true);
    expect((await world.crm.get('lead', lead))?.firstname).toBe('Local');
  });
});

