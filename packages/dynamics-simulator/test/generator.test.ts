import { describe, expect, it } from 'vitest';
import { createDataset, GENERATED_TABLES } from '../src/index.js';
import { hash32 } from '../src/random.js';

describe('data generator', () => {
  it('generates exactly the same rows as before (pinned digests: the data must not change when the generator gets faster)', () => {
    const dataset = createDataset({ seed: 11, contacts: 25_000, epoch: '2024-07-01T12:34:56Z' });
    const digests: Record<string, number> = {};
    for (const table of GENERATED_TABLES) {
      let digest = 0;
      const count = dataset.counts[table];
      for (let i = 0; i < count; i += Math.max(1, Math.floor(count / 2000))) digest = hash32(digest, JSON.stringify(dataset.row(table, i)), dataset.primaryName(table, i));
      digests[table] = digest;
    }
    expect(digests).toEqual({
      account: 1075124998,
      contact: 4220955493,
      lead: 2508980482,
      systemuser: 3142108967,
      team: 891811618,
      opportunity: 4047772591,
      new_membership: 4099143285,
    });
  });

  it('is a pure function of the seed', () => {
    const a = createDataset({ seed: 42, contacts: 1000 });
    const b = createDataset({ seed: 42, contacts: 1000 });
    const c = createDataset({ seed: 43, contacts: 1000 });
    expect(a.row('contact', 123)).toEqual(b.row('contact', 123));
    expect(a.row('contact', 123)).not.toEqual(c.row('contact', 123));
    expect(a.idOf('account', 5)).not.toBe(c.idOf('account', 5));
  });

  it('maps ids back to row indexes, only for its own table and range', () => {
    const dataset = createDataset({ seed: 5, contacts: 300 });
    const id = dataset.idOf('contact', 299);
    expect(dataset.indexOf('contact', id)).toBe(299);
    expect(dataset.indexOf('contact', id.toUpperCase())).toBe(299);
    expect(dataset.indexOf('account', id)).toBeUndefined();
    expect(dataset.indexOf('contact', dataset.idOf('account', 3))).toBeUndefined();
    expect(dataset.idOf('contact', 1) < dataset.idOf('contact', 2)).toBe(true);
  });

  it('gives large accounts exactly the requested number of contacts, derivable per contact', () => {
    const dataset = createDataset({ seed: 9, contacts: 15_000, accounts: 200, largeAccounts: [5000, 5001] });
    const counts = new Map<number, number>();
    for (let i = 0; i < dataset.counts.contact; i++) {
      const account = dataset.accountOfContact(i);
      if (account !== undefined) counts.set(account, (counts.get(account) ?? 0) + 1);
      const parent = dataset.row('contact', i).parentcustomerid;
      if (account !== undefined) expect(parent).toEqual({ table: 'account', id: dataset.idOf('account', account) });
    }
    expect(counts.get(0)).toBe(5000);
    expect(counts.get(1)).toBe(5001);
    expect(dataset.largeAccounts.map((large) => [large.id, large.contacts])).toEqual([
      [dataset.idOf('account', 0), 5000],
      [dataset.idOf('account', 1), 5001],
    ]);
    expect(Math.max(...[...counts.entries()].filter(([index]) => index > 1).map(([, count]) => count))).toBeLessThan(200);
  });

  it('generates a million contacts without holding them, and rejects impossible options', () => {
    const dataset = createDataset({ seed: 1, contacts: 1_000_000 });
    expect(dataset.counts).toMatchObject({ contact: 1_000_000, account: 100_000, lead: 500_000 });
    expect(dataset.row('contact', 999_999).contactid).toBe(dataset.idOf('contact', 999_999));
    expect(dataset.largeAccounts.map((large) => large.contacts)).toEqual([5000, 5001]);
    expect(() => dataset.row('contact', 1_000_000)).toThrow(RangeError);
    expect(() => createDataset({ contacts: 100, largeAccounts: [5000] })).toThrow(RangeError);
  });

  it('creates every documented table with system columns and sensible lookups', () => {
    const dataset = createDataset({ seed: 3, contacts: 100 });
    expect(dataset.row('systemuser', 0)).toMatchObject({ fullname: 'crm-sync Integration', applicationid: dataset.syncClientId });
    const opportunity = dataset.row('opportunity', 0);
    expect(['account', 'contact']).toContain((opportunity.customerid as { table: string }).table);
    const membership = dataset.row('new_membership', 0);
    expect((membership.new_contactid as { table: string }).table).toBe('contact');
    for (const table of ['account', 'contact', 'lead', 'opportunity', 'new_membership']) {
      const row = dataset.row(table, 0);
      expect(row).toHaveProperty('createdon');
      expect(row).toHaveProperty('modifiedon');
      expect(row).toHaveProperty('versionnumber');
      expect(row).toHaveProperty('ownerid');
      expect(row).toHaveProperty('statecode');
    }
    for (const table of ['account', 'contact', 'lead', 'opportunity']) expect(dataset.row(table, 0)).toHaveProperty('new_synctomkto');
  });
});
