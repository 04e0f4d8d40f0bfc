import { describe, expect, it } from 'vitest';
import { accountOverwrite, DEFAULT_CHANGE_DATA_VALUE_THRESHOLD, fanOutDetail, localAccountEdit, logsPerContactActivities } from './account.js';

describe('logsPerContactActivities (R7)', () => {
  it('logs for an account with exactly 5,000 contacts', () => {
    expect(DEFAULT_CHANGE_DATA_VALUE_THRESHOLD).toBe(5_000);
    expect(logsPerContactActivities(5_000)).toBe(true);
  });
  it('does not log for an account with 5,001 contacts', () => {
    expect(logsPerContactActivities(5_001)).toBe(false);
  });
  it('logs for small accounts and honours a configured threshold', () => {
    expect(logsPerContactActivities(0)).toBe(true);
    expect(logsPerContactActivities(1)).toBe(true);
    expect(logsPerContactActivities(10, 10)).toBe(true);
    expect(logsPerContactActivities(11, 10)).toBe(false);
  });
});

describe('accountOverwrite (R4)', () => {
  it('returns every synced field from the CRM, not only the changed ones', () => {
    const local = { name: 'Acme', industry: 'Edited locally', city: 'Oslo', localonly: 'keep' };
    const crm = { name: 'Acme Inc', industry: 'Retail', city: 'Oslo' };
    const r = accountOverwrite(['name', 'industry', 'city'], local, crm);
    expect(r.company).toEqual({ name: 'Acme Inc', industry: 'Retail', city: 'Oslo' });
    expect(r.changed).toEqual(['name', 'industry']);
  });
  it('reads a field the CRM did not send as null', () => {
    expect(accountOverwrite(['x'], { x: 'a' }, {}).company).toEqual({ x: null });
  });
});

describe('localAccountEdit (R4)', () => {
  it('keeps only the fields whose value changes', () => {
    const r = localAccountEdit({ name: 'Acme', city: 'Oslo' }, { name: 'Acme', city: 'Bergen' });
    expect(r).toEqual({ company: { city: 'Bergen' }, changed: ['city'] });
  });
});

describe('fanOutDetail (R7)', () => {
  it('names the account and where the change came from', () => {
    expect(fanOutDetail('a1', { name: 'Acme' }, 'crm')).toBe('changed in the CRM on account "Acme" (a1)');
    expect(fanOutDetail('a1', { name: null }, 'local')).toBe('edited locally on account a1');
  });
});
