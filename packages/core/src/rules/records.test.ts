import { describe, expect, it } from 'vitest';
import type { CrmRecord } from '../contracts/crm.js';
import type { LocalRecord } from '../contracts/store.js';
import { createEntityRegistry } from '../entities.js';
import { accountIdOf, crmDeletion, isEcho, passesSyncFilter, shouldFlagCrmDelete } from './records.js';

const registry = createEntityRegistry();
const contact = registry.get('contact');

function local(overrides: Partial<LocalRecord> = {}): LocalRecord {
  return {
    entity: 'contact', id: 'c1', crmId: 'c1', crmVersion: '10', revision: 1, fields: {}, base: {}, pending: [],
    accountId: null, company: {}, crmDeleted: false, syncToCrm: false, seenIn: null, updatedAt: '2026-01-01T00:00:00Z',
    ...overrides,
  };
}
function row(overrides: Partial<CrmRecord> = {}): CrmRecord {
  return { id: 'c1', version: '11', fields: {}, lookups: {}, bySyncUser: false, modifiedOn: null, ...overrides };
}

describe('passesSyncFilter (R11)', () => {
  it('skips only an explicit false', () => {
    expect(passesSyncFilter(contact, { new_synctomkto: false })).toBe(false);
    expect(passesSyncFilter(contact, { new_synctomkto: true })).toBe(true);
    expect(passesSyncFilter(contact, { new_synctomkto: null })).toBe(true);
    expect(passesSyncFilter(contact, {})).toBe(true);
  });
  it('uses the configured field, or none', () => {
    const custom = createEntityRegistry({ syncFilterField: 'x_sync' }).get('contact');
    expect(passesSyncFilter(custom, { new_synctomkto: false })).toBe(true);
    expect(passesSyncFilter(custom, { x_sync: false })).toBe(false);
    const off = createEntityRegistry({ syncFilterField: null }).get('contact');
    expect(passesSyncFilter(off, { new_synctomkto: false })).toBe(true);
  });
});

describe('isEcho (R13)', () => {
  it('recognises the version the sync itself wrote (or already applied)', () => {
    expect(isEcho(local({ crmVersion: '11' }), row({ version: '11' }))).toBe(true);
  });
  it('does not treat the pushed version as an echo when it carries values the CRM computed', () => {
    const pushed = local({ crmVersion: '11', fields: { firstname: 'Ada', fullname: 'Old Name' } });
    expect(isEcho(pushed, row({ version: '11', fields: { firstname: 'Ada', fullname: 'Old Name' } }))).toBe(true);
    expect(isEcho(pushed, row({ version: '11', fields: { firstname: 'Ada', fullname: 'Ada Lovelace' } }))).toBe(false);
  });
  it('does not treat a newer version as an echo, even from the sync user', () => {
    expect(isEcho(local({ crmVersion: '10' }), row({ version: '11', bySyncUser: true }))).toBe(false);
  });
  it('does not treat unknown records or unknown versions as echoes', () => {
    expect(isEcho(undefined, row())).toBe(false);
    expect(isEcho(local({ crmVersion: null }), row())).toBe(false);
  });
});

describe('shouldFlagCrmDelete (R12)', () => {
  it('flags a known record once', () => {
    expect(shouldFlagCrmDelete(local())).toBe(true);
    expect(shouldFlagCrmDelete(local({ crmDeleted: true }))).toBe(false);
    expect(shouldFlagCrmDelete(undefined)).toBe(false);
  });
});

describe('accountIdOf (R15)', () => {
  it('links a contact to its parent account', () => {
    expect(accountIdOf(contact, row({ lookups: { parentcustomerid: { id: 'a1', entity: 'account' } } }))).toBe('a1');
  });
  it('ignores a parentcustomerid that points to a contact', () => {
    expect(accountIdOf(contact, row({ lookups: { parentcustomerid: { id: 'c9', entity: 'contact' } } }))).toBeNull();
  });
  it('has no account link for leads', () => {
    expect(accountIdOf(registry.get('lead'), row({ lookups: { parentcustomerid: { id: 'a1', entity: 'account' } } }))).toBeNull();
  });
});

describe('crmDeletion (R12)', () => {
  it('keeps the record, flags it, drops its pending changes and says why', () => {
    const record = local({ id: 'c1', revision: 4, pending: ['jobtitle'] });
    expect(crmDeletion('contact', record, 'not found in a full read of the CRM')).toEqual({
      write: { id: 'c1', expectedRevision: 4, crmDeleted: true, pending: [] },
      activity: { entity: 'contact', recordId: 'c1', type: 'crm-deleted', source: 'crm', detail: 'not found in a full read of the CRM' },
    });
    expect(crmDeletion('contact', record, null).activity).not.toHaveProperty('detail');
  });
});
