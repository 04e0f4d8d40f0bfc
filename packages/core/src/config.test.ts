import { describe, expect, it } from 'vitest';
import { parseSyncConfig } from './config.js';
import { isSyncError } from './errors.js';

describe('parseSyncConfig', () => {
  it('fills the defaults: 5 minutes, 5,000 threshold, new_synctomkto', () => {
    const config = parseSyncConfig({});
    expect(config.intervalMs).toBe(300_000);
    expect(config.changeDataValueThreshold).toBe(5_000);
    expect(config.syncFilterField).toBe('new_synctomkto');
  });

  it('names the path and the problem of each bad value', () => {
    try {
      parseSyncConfig({ intervalMs: 'often', entities: { contact: { fields: ['Email Address'] } }, pagesPerTurn: 0 });
      expect.unreachable();
    } catch (error) {
      expect(isSyncError(error, 'CONFIG_INVALID')).toBe(true);
      const issues = (error as { details: { issues: string[] } }).details.issues;
      expect(issues.some((i) => i.startsWith('intervalMs:'))).toBe(true);
      expect(issues.some((i) => i.startsWith('entities.contact.fields.0:') && i.includes('logical name'))).toBe(true);
      expect(issues.some((i) => i.startsWith('pagesPerTurn:'))).toBe(true);
    }
  });

  it('rejects an unknown entity name and a custom entity that clashes with a built-in', () => {
    expect(() => parseSyncConfig({ entities: { contacts: { fields: 'all' } } })).toThrow(/entities\.contacts: unknown entity; known: systemuser/);
    expect(() => parseSyncConfig({ customEntities: [{ name: 'account' }] })).toThrow(/customEntities\.0\.name/);
    expect(() => parseSyncConfig({ customEntities: [{ name: 'new_x' }, { name: 'new_x' }] })).toThrow(/customEntities\.1\.name/);
    const ok = parseSyncConfig({ customEntities: [{ name: 'new_x' }], entities: { new_x: { enabled: false } } });
    expect(ok.entities.new_x?.enabled).toBe(false);
  });

  it('rejects unknown keys instead of ignoring them', () => {
    expect(() => parseSyncConfig({ interval: 5 })).toThrow(/interval/);
  });
});
