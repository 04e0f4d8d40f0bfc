import { afterEach, describe, expect, it } from 'vitest';
import { changeTokenAge } from '@crm-sync/core';
import type { SyncEvent } from '@crm-sync/core';
import { createClock } from '@crm-sync/dynamics-simulator';
import { fakeCrmWithMemoryStore } from '../src/harness.js';
import { simulatorCrm } from '../src/simulator-harness.js';
import type { World } from '../src/world.js';
import { createWorld, newId } from '../src/world.js';

const DAY = 86_400_000;
const WARN_AFTER = 5 * DAY;

/**
 * Change-token age on the simulator's clock: the engine keeps each entity's last complete read, warns
 * once a token is older than 5 days, and an expired token (7 days) still resyncs without loss.
 */
describe('change-token age, on the simulator clock over HTTP', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('warns about an entity not read for more than 5 days, is fresh again after a cycle, and resyncs an expired token', async () => {
    const clock = createClock({ start: '2026-03-01T00:00:00Z', manual: true });
    let crm!: Awaited<ReturnType<typeof simulatorCrm>>;
    const events: SyncEvent[] = [];
    world = await createWorld(
      { name: 'simulator', crm: async () => (crm = await simulatorCrm({ clock })), store: fakeCrmWithMemoryStore.store },
      {},
      { now: () => new Date(clock.now()), onEvent: (event) => events.push(event) },
    );
    const w = world;
    const age = () => changeTokenAge(w.store, 'contact', new Date(clock.now()), WARN_AFTER);
    expect(await age()).toEqual({ entity: 'contact', lastReadAt: null, ageMs: null, old: false });
    const id = newId();
    await w.crm.put('contact', id, { firstname: 'Ann' });
    await w.cycle();
    expect(await age()).toEqual({ entity: 'contact', lastReadAt: '2026-03-01T00:00:00.000Z', ageMs: 0, old: false });

    clock.advance(4 * DAY);
    expect((await age()).old).toBe(false);
    clock.advance(1 * DAY + 1);
    expect(await age()).toMatchObject({ ageMs: 5 * DAY + 1, old: true });
    // The next cycle says so before it reads, and the token is new again after it.
    await w.crm.put('contact', id, { firstname: 'Ann B' });
    await w.cycle();
    const warned = events.filter((e) => e.type === 'change-token-old');
    expect(warned.map((e) => e.type === 'change-token-old' && e.entity)).toContain('contact');
    const contactWarning = warned.find((e) => e.type === 'change-token-old' && e.entity === 'contact');
    expect(contactWarning?.type === 'change-token-old' && contactWarning.detail).toMatch(/^contact: the last complete read was 5\.0 days ago \(2026-03-01T00:00:00\.000Z\); a change token unused for about 7 days expires/);
    expect((await w.local('contact', id))?.fields.firstname).toBe('Ann B');
    expect(await age()).toMatchObject({ ageMs: 0, old: false });

    // Past the simulator's 7 days the token is refused: the cycle reads the table again, nothing is lost.
    clock.advance(8 * DAY);
    await w.crm.put('contact', id, { firstname: 'Ann C' });
    const summary = await w.cycle();
    expect(summary.entities.find((e) => e.entity === 'contact')?.status).toBe('ok');
    expect((await w.local('contact', id))?.fields.firstname).toBe('Ann C');
    expect(crm.control.requestLog({ limit: 10_000 }).some((e) => e.status === 400 && e.url.includes('deltatoken'))).toBe(true);
    expect((await age()).old).toBe(false);
  });
});
