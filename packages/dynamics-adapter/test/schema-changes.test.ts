import { afterEach, describe, expect, it } from 'vitest';
import { createClock, startSimulatorServer } from '@crm-sync/dynamics-simulator';
import type { ServerOptions, SimulatorServer } from '@crm-sync/dynamics-simulator';
import { createDynamicsAdapter } from '../src/index.js';
import { account, contact } from './helpers.js';

const running: SimulatorServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(options: ServerOptions = {}) {
  const server = await startSimulatorServer({ contacts: 20, port: 0, ...options });
  running.push(server);
  const crm = createDynamicsAdapter({ environmentUrl: server.url, auth: { kind: 'static-token', token: server.simulator.tokens.sync }, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
  /** Web API requests sent since the last call. */
  const sent = () => {
    const log = server.control.requestLog().map((e) => new URL(e.url).pathname.replace('/api/data/v9.2/', '').replace(/\(.*$/, ''));
    server.control.clearRequestLog();
    return log;
  };
  return { server, crm, sent };
}

const fieldNames = async (crm: ReturnType<typeof createDynamicsAdapter>) => (await crm.describeEntity(contact)).fields.map((f) => f.name);

describe('schema changes from RetrieveMetadataChanges, over HTTP', () => {
  it('costs one request per quiet cycle for every entity, the definitions answered from the cache', async () => {
    const { crm, sent } = await start();
    expect(await crm.schemaChanges!([contact, account])).toEqual([]);
    await crm.describeEntity(contact);
    await crm.describeEntity(account);
    sent();
    // A quiet cycle: the change check, then the entities described from the cache.
    expect(await crm.schemaChanges!([contact, account])).toEqual([]);
    await crm.describeEntity(contact);
    await crm.describeEntity(account);
    expect(sent()).toEqual(['RetrieveMetadataChanges']);
  });

  it('reports columns added, removed, retyped and secured, and describes a changed entity afresh', async () => {
    const { server, crm, sent } = await start();
    const control = server.control;
    control.addColumn('contact', { logicalName: 'new_tier', type: 'String' });
    control.addColumn('contact', { logicalName: 'new_score', type: 'String' });
    await crm.schemaChanges!([contact, account]);
    expect(await fieldNames(crm)).toContain('jobtitle');

    control.addColumn('contact', { logicalName: 'new_segment', type: 'Picklist', options: [{ value: 1, label: 'A' }] });
    control.removeColumn('contact', 'jobtitle');
    control.changeColumnType('contact', { logicalName: 'new_tier', type: 'Integer' });
    control.setFieldSecurity({ table: 'contact', column: 'new_score', secured: true });
    control.addColumn('lead', { logicalName: 'new_elsewhere', type: 'String' });
    sent();
    const changes = await crm.schemaChanges!([contact, account]);
    expect(sent()).toEqual(['RetrieveMetadataChanges']);
    expect(changes).toEqual(
      expect.arrayContaining([
        { entity: 'contact', field: 'new_segment', kind: 'added', type: 'Picklist', secured: false },
        { entity: 'contact', field: 'jobtitle', kind: 'removed' },
        { entity: 'contact', field: 'new_tier', kind: 'type-changed', type: 'Integer', previousType: 'String', secured: false },
        { entity: 'contact', field: 'new_score', kind: 'security-changed', type: 'String', secured: true },
      ]),
    );
    expect(changes).toHaveLength(4);
    // Within the hour the definitions would otherwise be reused: the change made the next describe read them.
    const fields = await fieldNames(crm);
    expect(fields).toContain('new_segment');
    expect(fields).not.toContain('jobtitle');
    expect(sent()).toContain('EntityDefinitions');
    // Reported once.
    expect(await crm.schemaChanges!([contact, account])).toEqual([]);
  });

  it('starts a new baseline after an expired stamp, with every definition read again', async () => {
    const clock = createClock({ start: '2026-01-01T00:00:00Z', manual: true });
    const { server, crm, sent } = await start({ clock });
    await crm.schemaChanges!([contact]);
    await crm.describeEntity(contact);
    clock.advance(91 * 86_400_000);
    server.control.addColumn('contact', { logicalName: 'new_late', type: 'String' });
    sent();
    // The stamp expired: what changed meanwhile cannot be told, but nothing cached is trusted either.
    expect(await crm.schemaChanges!([contact])).toEqual([]);
    expect(await fieldNames(crm)).toContain('new_late');
    expect(sent().filter((p) => p === 'RetrieveMetadataChanges')).toHaveLength(2);
  });
});
