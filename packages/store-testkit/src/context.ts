import type { RecordWrite } from '@crm-sync/core';
import type { StoreFactory, TestContext } from './types.js';

export function createTestContext(factory: StoreFactory): TestContext {
  return {
    async withStore(fn) {
      const { store, raw, cleanup } = await factory();
      try {
        await fn(store, raw);
      } finally {
        await store.close();
        await cleanup?.();
      }
    },
  };
}

let counter = 0;
/** A unique id per call, so tests never share keys. */
export function uid(prefix = 'r'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** A create write for a CRM-originated record. */
export function newRecord(id: string, overrides: Partial<RecordWrite> = {}): RecordWrite {
  return { id, expectedRevision: 0, crmId: id, crmVersion: '1', fields: {}, base: {}, ...overrides };
}

/** Captures the error of a promise (the suite asserts codes, not messages). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}
