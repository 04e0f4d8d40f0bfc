import { describe, expect, it } from 'vitest';
import { isSyncError } from '@crm-sync/core';
import { createDynamicsAdapter, parseOptions } from '../src/index.js';

const SECRET = 'very-secret-value-0123456789';

function configError(input: unknown) {
  try {
    parseOptions(input);
  } catch (error) {
    if (isSyncError(error, 'CONFIG_INVALID')) return error;
    throw error;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('options', () => {
  it('applies defaults', () => {
    const options = parseOptions({ environmentUrl: 'https://org.crm.dynamics.com', auth: { kind: 'static-token', token: 't' } });
    expect(options).toMatchObject({
      apiPath: '/api/data/v9.2',
      pageSize: 5000,
      batchSize: 100,
      retry: { maxAttempts: 10, budgetMs: 300_000 },
      reconcileEvery: 12,
      initialLoad: { parallel: 'auto', rangeSize: 5000 },
      serviceProtection: { pacing: true, windowMs: 300_000 },
    });
    // Unset, the service's x-ms-dop-hint sizes the concurrency and the initial-load ranges.
    expect(options.maxConcurrency).toBeUndefined();
    expect(options.initialLoad.maxRanges).toBeUndefined();
  });

  it('validates the initial load and pacing options', () => {
    const base = { environmentUrl: 'https://org.crm.dynamics.com', auth: { kind: 'static-token', token: 't' } };
    expect(parseOptions({ ...base, initialLoad: { parallel: true } }).initialLoad).toEqual({ parallel: true, rangeSize: 5000 });
    const error = configError({ ...base, initialLoad: { parallel: 'yes', maxRanges: 0, rangeSize: 5001 }, serviceProtection: { windowMs: 10 } });
    for (const path of ['initialLoad.parallel', 'initialLoad.maxRanges', 'initialLoad.rangeSize', 'serviceProtection.windowMs']) {
      expect(error.message).toContain(`${path}:`);
    }
  });

  it('names every bad path in one CONFIG_INVALID', () => {
    const error = configError({
      environmentUrl: 'not a url',
      auth: { kind: 'client-credentials', tenantId: 't', clientId: '', clientSecret: SECRET },
      maxConcurrency: 52,
      sharedBy: 0,
      pageSize: 5001,
      retry: { maxAttempts: 0 },
    });
    expect(error.message).toMatch(/^\[dynamics-adapter\] Invalid options/);
    for (const path of ['environmentUrl', 'auth.clientId', 'maxConcurrency', 'sharedBy', 'pageSize', 'retry.maxAttempts']) {
      expect(error.message).toContain(`${path}:`);
    }
    expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain(SECRET);
  });

  it('never echoes a secret given with the wrong type or an unknown key', () => {
    const error = configError({ environmentUrl: 'https://x.crm.dynamics.com', auth: { kind: 'client-credentials', tenantId: 't', clientId: 'c', clientSecret: SECRET, extra: SECRET } });
    expect(JSON.stringify({ message: error.message, details: error.details, cause: String(error.cause ?? '') })).not.toContain(SECRET);
  });

  it('refuses an environment URL with a path, an http authority host and an unknown auth kind', () => {
    expect(configError({ environmentUrl: 'https://org.crm.dynamics.com/api/data/v9.2', auth: { kind: 'static-token', token: 't' } }).message).toContain('environmentUrl');
    expect(
      configError({ environmentUrl: 'https://o.crm.dynamics.com', auth: { kind: 'client-credentials', tenantId: 't', clientId: 'c', clientSecret: 's', authorityHost: 'http://login' } }).message,
    ).toContain('auth.authorityHost');
    expect(configError({ environmentUrl: 'https://o.crm.dynamics.com', auth: { kind: 'password' } }).message).toContain('auth.kind');
  });

  it('validates when the adapter is created', () => {
    expect(() => createDynamicsAdapter({ environmentUrl: 'x', auth: { kind: 'static-token', token: 't' } })).toThrow(/environmentUrl/);
  });
});
