import { describe, expect, it } from 'vitest';
import { adapterFor, contact, useMsw } from './helpers.js';

const msw = useMsw();

describe('readRecords (re-reading quarantined rows)', () => {
  it('reads the given rows by id in chunks, reports the missing ones, and rejects a row of the wrong type', async () => {
    const sim = msw.simulate({ seed: 8, contacts: 300 });
    const { crm } = adapterFor(sim);
    const ids = Array.from({ length: 150 }, (_, i) => sim.dataset.idOf('contact', i * 2));
    const gone = ids[3] as string;
    sim.control.deleteRow('contact', gone);
    const unknown = '0f0f0f0f-0000-4000-8000-000000000000';
    const read = crm.readRecords!.bind(crm);
    const result = await read(contact, { ids: [...ids, unknown], fields: ['firstname', 'lastname', 'parentcustomerid'] });
    expect(result.rows).toHaveLength(149);
    expect(result.rejected).toEqual([]);
    expect(result.missing.sort()).toEqual([gone, unknown].sort());
    const first = result.rows.find((r) => r.id === ids[0]);
    expect(first?.fields.lastname).toBe(sim.dataset.row('contact', 0).lastname);
    // Two requests of at most 100 ids (each filter stays far below the URL limit).
    const requests = sim.control.requestLog().filter((e) => e.url.includes('/contacts?') && e.url.includes('%20or%20'));
    expect(requests).toHaveLength(2);

    sim.control.setFaults({ seed: 2, rules: [{ kind: 'wrong-type', rate: 1, limit: 1, path: '/contacts' }] });
    const damaged = await read(contact, { ids: ids.slice(0, 10), fields: ['firstname', 'lastname', 'statuscode', 'birthdate', 'parentcustomerid'] });
    expect(damaged.rejected).toHaveLength(1);
    expect(damaged.rejected[0]?.reason).toMatch(/expected/);
    expect(damaged.rows).toHaveLength(8); // ten asked, one deleted, one damaged
    expect(damaged.missing).toEqual([gone]);
  });
});
