import { createSyncEngine } from '@crm-sync/core';
import { createDynamicsAdapter } from '@crm-sync/dynamics-adapter';
import { createSimulator } from '@crm-sync/dynamics-simulator';
import { createMemoryStore } from '@crm-sync/memory-store';
import { http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Malformed CRM payloads: a page of contacts carrying many kinds of broken rows next to good ones.
 * Each broken row is quarantined with a reason; the good rows are applied; the cycle goes on.
 */
const sim = createSimulator({ seed: 4, accounts: 3, contacts: 20, leads: 0, opportunities: 0, memberships: 0, teams: 0, users: 3 });
const server = setupServer(...sim.handlers);
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

const guid = (n: number) => `aaaaaaaa-0000-4000-8000-${String(n).padStart(12, '0')}`;
const good = (n: number, extra: Record<string, unknown> = {}) => ({
  '@odata.etag': `W/"${9_000 + n}"`, contactid: guid(n), firstname: `Bad${n}`, lastname: 'Row', ...extra,
});

/** Broken rows, each with what its quarantine reason must mention. */
const broken: Array<[string, unknown, RegExp]> = [
  ['a row that is a string', 'not a row', /not a JSON object/],
  ['a row that is an array', [1, 2], /not a JSON object/],
  ['a row that is null', null, /not a JSON object/],
  ['a deleted row without id', { '@odata.context': 'x/$metadata#contacts/$deletedEntity', reason: 'deleted' }, /deleted row without a valid id/],
  ['a row without its primary key', { '@odata.etag': 'W/"1"', firstname: 'No key' }, /primary key contactid/],
  ['a primary key that is not a GUID', { '@odata.etag': 'W/"1"', contactid: 'contact-42' }, /primary key contactid/],
  ['a row without etag or versionnumber', { contactid: guid(1), firstname: 'No version' }, /neither @odata.etag nor versionnumber/],
  ['text column with a number', good(2, { firstname: 42 }), /firstname: expected text/],
  ['text column with an object', good(3, { lastname: { text: 'x' } }), /lastname: expected/],
  ['text column with an array', good(4, { jobtitle: ['a', 'b'] }), /jobtitle: expected/],
  ['date column with words', good(5, { birthdate: 'yesterday' }), /birthdate: expected an ISO date/],
  ['date column with a number', good(6, { birthdate: 1_700_000_000 }), /birthdate: expected an ISO date/],
  ['boolean column with text', good(7, { new_synctomkto: 'yes' }), /new_synctomkto: expected true or false/],
  ['boolean column with a number', good(8, { new_synctomkto: 1 }), /new_synctomkto: expected true or false/],
  ['lookup with a value that is not a GUID', good(9, { _parentcustomerid_value: 'acme', '_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'account' }), /parentcustomerid: expected a GUID/],
  ['polymorphic lookup without its target annotation', good(10, { _parentcustomerid_value: guid(99) }), /parentcustomerid: lookup target unknown/],
  ['owner lookup with a number', good(11, { _ownerid_value: 7 }), /ownerid: expected a GUID/],
  ['text column with a boolean', good(12, { emailaddress1: true }), /emailaddress1: expected text/],
];

describe('malformed CRM payloads are quarantined while the cycle goes on', () => {
  it(`quarantines ${broken.length} kinds of broken rows with their reasons and applies the good rows`, async () => {
    server.use(
      http.get(`${sim.url}/api/data/v9.2/contacts`, async ({ request }) => {
        const real = await sim.fetchHandler(request);
        const body = (await real.json()) as { value: unknown[] } & Record<string, unknown>;
        // Break the first page only (the one without a skiptoken).
        if (!new URL(request.url).searchParams.has('$skiptoken')) body.value = [...body.value, ...broken.map(([, row]) => row)];
        return new Response(JSON.stringify(body), { status: real.status, headers: real.headers });
      }),
    );
    const store = createMemoryStore();
    const engine = createSyncEngine({
      adapter: createDynamicsAdapter({ environmentUrl: sim.url, auth: { kind: 'static-token', token: sim.tokens.sync } }),
      store,
      config: { entities: { contact: { fields: ['firstname', 'lastname', 'jobtitle', 'emailaddress1', 'birthdate', 'new_synctomkto', 'parentcustomerid', 'ownerid'] } } },
    });
    const summary = await engine.runCycle({ entities: ['account', 'contact'] });
    const contact = summary.entities.find((e) => e.entity === 'contact');
    expect(contact?.status).toBe('ok');
    expect(contact?.quarantined).toBe(broken.length);
    const entries = (await store.listQuarantine({ limit: 100, entity: 'contact' })).items;
    expect(entries).toHaveLength(broken.length);
    broken.forEach(([what, , reason], i) => expect(entries[i]?.reason, what).toMatch(reason));
    expect(entries.every((e) => e.direction === 'pull' && e.payload !== undefined)).toBe(true);
    const syncable = Array.from({ length: 20 }, (_, i) => sim.dataset.row('contact', i)).filter((r) => r.new_synctomkto !== false).length;
    expect((await store.stats('contact')).records).toBe(syncable);
  });
});
