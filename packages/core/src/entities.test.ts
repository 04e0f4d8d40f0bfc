import { describe, expect, it } from 'vitest';
import { createEntityRegistry } from './entities.js';
import { isSyncError } from './errors.js';

describe('entity registry (R1, R2, R16)', () => {
  const registry = createEntityRegistry({
    custom: [{ name: 'new_membership' }],
  });

  it('syncs leads and contacts both ways and everything else from the CRM only', () => {
    const directions = Object.fromEntries(registry.all.map((e) => [e.name, e.direction]));
    expect(directions).toEqual({
      systemuser: 'crm-to-local',
      team: 'crm-to-local',
      account: 'crm-to-local',
      contact: 'both',
      lead: 'both',
      opportunity: 'crm-to-local',
      new_membership: 'crm-to-local',
    });
  });

  it('names local as the collision winner for leads and the CRM for everything else', () => {
    expect(Object.fromEntries(registry.all.map((e) => [e.name, e.collisionWinner]))).toEqual({
      systemuser: 'crm',
      team: 'crm',
      account: 'crm',
      contact: 'crm',
      lead: 'local',
      opportunity: 'crm',
      new_membership: 'crm',
    });
  });

  it('orders a cycle users, teams, accounts, contacts, leads, opportunities, then custom entities', () => {
    expect(registry.all.map((e) => e.name)).toEqual([
      'systemuser', 'team', 'account', 'contact', 'lead', 'opportunity', 'new_membership',
    ]);
  });

  it('rejects a custom entity that clashes with a built-in', () => {
    const error = (() => {
      try {
        createEntityRegistry({ custom: [{ name: 'account' }] });
      } catch (e) {
        return e;
      }
    })();
    expect(isSyncError(error, 'CONFIG_INVALID')).toBe(true);
  });

  it('names the known entities when asked for an unknown one', () => {
    expect(() => registry.get('contacts')).toThrow(/Unknown entity "contacts"; known: systemuser, team, account/);
  });
});
