import { describe, expect, it } from 'vitest';
import type { StoreBatch, StoreDriver, WriteContext } from '../contracts/store.js';
import { isSyncError } from '../errors.js';
import { defineStore, fencedStore } from './define-store.js';

/** A driver that records what reaches it; `write` runs `onWrite` when given. */
function fakeDriver(onWrite?: (batch: StoreBatch, context: WriteContext) => Promise<void> | void, more: Partial<StoreDriver> = {}) {
  const writes: StoreBatch[] = [];
  const driver: StoreDriver = {
    name: 'fake',
    capabilities: { persistent: false, sharedAcrossProcesses: false, leases: true },
    async write(batch, context) {
      await onWrite?.(batch, context);
      writes.push(batch);
    },
    getCheckpoint: async () => null,
    getState: async () => null,
    getRecords: async () => [],
    getRecordsByCrmId: async () => [],
    listRecords: async () => ({ items: [], next: null }),
    listOutbox: async () => ({ items: [], next: null }),
    listUnseen: async () => ({ items: [], next: null }),
    countByAccount: async () => new Map(),
    listActivities: async () => ({ items: [], next: null }),
    listCollisions: async () => ({ items: [], next: null }),
    listQuarantine: async () => ({ items: [], next: null }),
    stats: async () => ({ records: 0, pending: 0, crmDeleted: 0, quarantined: 0 }),
    acquireLease: async () => true,
    ...more,
  };
  return { driver, writes };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

const write = (id: string, more: object = {}) => ({ id, expectedRevision: 0, ...more });
const step = { entity: 'e', recordId: 'a', field: 'name', rule: 'pull', side: 'crm', value: 'x' };
const log = { fields: { name: 'company.name' }, type: 'change-data-value' as const, source: 'crm' as const, detail: null };

describe('defineStore: batch validation, once for every store', () => {
  const bad: [string, unknown, RegExp][] = [
    ['no entity', { records: [] }, /needs an entity/],
    ['records that are not a list', { entity: 'e', records: {} }, /records must be a list/],
    ['a write without an id', { entity: 'e', records: [{ expectedRevision: 0 }] }, /needs an id/],
    ['a negative revision', { entity: 'e', records: [write('a', { expectedRevision: -1 })] }, /expectedRevision/],
    ['the same id twice', { entity: 'e', records: [write('a'), write('a')] }, /record e\/a appears twice/],
    ['fields that are not a map', { entity: 'e', records: [write('a', { fields: 'x' })] }, /record e\/a: fields must be a map/],
    ['company that is a list', { entity: 'e', records: [write('a', { company: [] })] }, /company must be a map/],
    ['pending that is not a list of names', { entity: 'e', records: [write('a', { pending: 'x' })] }, /pending must be a list/],
    ['a crmId that is a number', { entity: 'e', records: [write('a', { crmId: 7 })] }, /crmId must be a text or null/],
    ['crmDeleted that is not true or false', { entity: 'e', records: [write('a', { crmDeleted: 'yes' })] }, /crmDeleted must be true or false/],
    ['companyFrom without an entity', { entity: 'e', records: [write('a', { companyFrom: { crmId: 'x' } })] }, /companyFrom needs an entity/],
    ['companyFrom and company', { entity: 'e', records: [write('a', { companyFrom: { entity: 'o', crmId: 'x' }, company: {} })] }, /companyFrom and company/],
    ['a record written and deleted', { entity: 'e', records: [write('a')], deletes: [{ id: 'a', expectedRevision: 1 }] }, /written and deleted/],
    ['a record deleted twice', { entity: 'e', deletes: [{ id: 'a', expectedRevision: 1 }, { id: 'a', expectedRevision: 1 }] }, /deleted twice/],
    ['a checkpoint that is a number', { entity: 'e', checkpoint: 3 }, /checkpoint must be a text or null/],
    ['a state value that is a number', { entity: 'e', state: { k: 1 } }, /state k must be a text or null/],
    ['an activity that is not an object', { entity: 'e', activities: [null] }, /an entry of activities/],
    ['resolveQuarantine that is not a list of ids', { entity: 'e', resolveQuarantine: 'a' }, /resolveQuarantine must be a list/],
    ['resolveDirection that is not a direction', { entity: 'e', resolveDirection: 'both' }, /resolveDirection must be 'pull' or 'push'/],
    ['a fan-out without a company', { entity: 'e', fanOuts: [{ entity: 'c', accountId: 'x' }] }, /a fan-out needs/],
    ['two fan-outs to one account', {
      entity: 'e', fanOuts: [{ entity: 'c', accountId: 'x', company: {} }, { entity: 'c', accountId: 'x', company: {} }],
    }, /two fan-outs to c of account x/],
    ['a fan-out log with its fields as a list', { entity: 'e', fanOuts: [{ entity: 'c', accountId: 'x', company: {}, log: { ...log, fields: ['name'] } }] }, /log needs fields/],
    ['a fan-out log without a type', { entity: 'e', fanOuts: [{ entity: 'c', accountId: 'x', company: {}, log: { ...log, type: undefined } }] }, /log needs fields/],
    ['a lease without an owner', { entity: 'e', lease: { ttlMs: 10 } }, /lease needs an owner/],
    ['a history entry with an unknown rule', { entity: 'e', history: [{ ...step, rule: 'magic' }] }, /a history entry needs .* a rule \(create, pull/],
    ['a history entry without a value', { entity: 'e', history: [{ ...step, value: undefined }] }, /a history entry needs/],
    ['a history entry with an object value', { entity: 'e', history: [{ ...step, value: { x: 1 } }] }, /a history entry needs/],
    ['a history collision without a winner', { entity: 'e', history: [{ ...step, collision: { localValue: 'a', crmValue: 'b' } }] }, /a history entry needs/],
    ['a fan-out history without old values', {
      entity: 'e', fanOuts: [{ entity: 'c', accountId: 'x', company: {}, history: { fields: { name: 'company.name' }, side: 'crm', detail: null } }],
    }, /history needs fields .* oldValues/],
  ];
  for (const [what, batch, message] of bad) {
    it(`refuses ${what} with STORE_BATCH_INVALID naming it; the driver never sees the batch`, async () => {
      const { driver, writes } = fakeDriver();
      const error = await failure(defineStore(driver).commit(batch as StoreBatch));
      expect(isSyncError(error, 'STORE_BATCH_INVALID')).toBe(true);
      expect((error as Error).message).toMatch(/^\[fake\] /);
      expect((error as Error).message).toMatch(message);
      expect(writes).toHaveLength(0);
    });
  }

  it('refuses a lease on a store without leases', async () => {
    const { driver, writes } = fakeDriver(undefined, { capabilities: { persistent: false, sharedAcrossProcesses: false, leases: false } });
    const store = defineStore(driver);
    expect(store.acquireLease).toBeUndefined();
    const error = await failure(store.commit({ entity: 'e', lease: { owner: 'a', ttlMs: 10 } }));
    expect(isSyncError(error, 'STORE_BATCH_INVALID') && error.message).toMatch(/no leases/);
    expect(writes).toHaveLength(0);
  });

  it('passes a valid batch on as it is, with its lease in the context', async () => {
    const seen: (WriteContext['lease'])[] = [];
    const { driver, writes } = fakeDriver((_, context) => void seen.push(context.lease));
    const batch: StoreBatch = {
      entity: 'e', lease: { owner: 'a', ttlMs: 10 }, records: [write('a', { companyFrom: { entity: 'o', crmId: null } })],
      fanOuts: [{ entity: 'c', accountId: 'x', company: { name: 'N' }, log }, { entity: 'c', accountId: 'y', company: {} }],
    };
    await defineStore(driver).commit(batch);
    expect(writes).toEqual([batch]);
    expect(seen).toEqual([{ owner: 'a', ttlMs: 10 }]);
  });
});

describe('defineStore: errors, closed stores, leases', () => {
  it('wraps what the driver throws as STORE_UNAVAILABLE with the cause; SyncErrors pass as they are', async () => {
    const cause = new Error('connection reset');
    const { driver } = fakeDriver(() => {
      throw cause;
    }, { getState: async () => { throw cause; } });
    const store = defineStore(driver);
    const error = await failure(store.commit({ entity: 'e' }));
    expect(isSyncError(error, 'STORE_UNAVAILABLE') && [error.message, error.cause]).toEqual(['[fake] connection reset', cause]);
    expect(isSyncError(await failure(store.getState('k')), 'STORE_UNAVAILABLE')).toBe(true);
  });

  it('gives the driver one LEASE_LOST and one STORE_CONFLICT error for every store', async () => {
    const lost = defineStore(fakeDriver((_, context) => context.leaseLost()).driver);
    const leaseError = await failure(lost.commit({ entity: 'e', lease: { owner: 'a', ttlMs: 10 } }));
    expect(isSyncError(leaseError, 'LEASE_LOST') && leaseError.details).toEqual({ entity: 'e', owner: 'a' });
    const stale = defineStore(fakeDriver((_, context) => context.conflict(['a', 'b'])).driver);
    const conflict = await failure(stale.commit({ entity: 'e', records: [write('a'), write('b')] }));
    expect(isSyncError(conflict, 'STORE_CONFLICT') && conflict.details).toEqual({ entity: 'e', ids: ['a', 'b'] });
  });

  it('refuses every call once closed, and closes the driver once', async () => {
    let closes = 0;
    const { driver, writes } = fakeDriver(undefined, { close: async () => void (closes += 1) });
    const store = defineStore(driver);
    await store.close();
    await store.close();
    expect(closes).toBe(1);
    expect(isSyncError(await failure(store.commit({ entity: 'e' })), 'STORE_UNAVAILABLE')).toBe(true);
    expect(isSyncError(await failure(store.getRecords('e', ['a'])), 'STORE_UNAVAILABLE')).toBe(true);
    expect(isSyncError(await failure(store.acquireLease?.('e', { owner: 'a', ttlMs: 1 }) ?? Promise.resolve()), 'STORE_UNAVAILABLE')).toBe(true);
    expect(writes).toHaveLength(0);
  });

  it('fencedStore adds the lease of the batch\'s entity to its commits, and only then', async () => {
    const { driver, writes } = fakeDriver();
    const store = fencedStore(defineStore(driver), (entity) => (entity === 'e' ? { owner: 'a', ttlMs: 5 } : undefined));
    await store.commit({ entity: 'e' });
    await store.commit({ entity: 'f' });
    expect(writes).toEqual([{ entity: 'e', lease: { owner: 'a', ttlMs: 5 } }, { entity: 'f' }]);
    expect(await store.acquireLease?.('e', { owner: 'a', ttlMs: 5 })).toBe(true);
  });
});

describe('defineStore: chained commits (CommitOptions.after)', () => {
  it('a driver without writesAhead is called only after the commit it follows, with no turn to await', async () => {
    const order: string[] = [];
    const { driver } = fakeDriver((batch, context) => {
      order.push(`${batch.entity}:${context.turn === null ? 'no turn' : 'turn'}`);
    });
    const store = defineStore(driver);
    let release!: () => void;
    const before = new Promise<void>((resolve) => (release = resolve));
    const chained = store.commit({ entity: 'second' }, { after: before.then(() => order.push('first done')) });
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual([]);
    release();
    await chained;
    expect(order).toEqual(['first done', 'second:no turn']);
  });

  it('a driver with writesAhead starts at once and gets the turn; null when the commit follows none', async () => {
    const turns: (Promise<void> | null)[] = [];
    const { driver } = fakeDriver((_, context) => void turns.push(context.turn), { writesAhead: true });
    const store = defineStore(driver);
    await store.commit({ entity: 'e' });
    let release!: () => void;
    const chained = store.commit({ entity: 'e' }, { after: new Promise<void>((resolve) => (release = resolve)) });
    await new Promise((resolve) => setImmediate(resolve));
    expect(turns).toHaveLength(2);
    expect(turns[0]).toBeNull();
    expect(turns[1]).toBeInstanceOf(Promise);
    release();
    await chained;
  });

  it('when the commit before fails, the chained commit fails with that same error and writes nothing', async () => {
    const before = new Error('page 1 failed');
    for (const writesAhead of [false, true]) {
      const { driver, writes } = fakeDriver(async (_, context) => {
        await context.turn;
      }, { writesAhead });
      const error = await failure(defineStore(driver).commit({ entity: 'e' }, { after: Promise.reject(before) }));
      expect(error).toBe(before);
      expect(writes).toHaveLength(0);
    }
  });
});

describe('defineStore: field history, optional', () => {
  const history = [{ entity: 'e', recordId: 'a', field: 'name', rule: 'pull' as const, side: 'crm' as const, value: 'x' }];
  const fanOut = { entity: 'c', accountId: 'x', company: { name: 'y' }, history: { fields: { name: 'company.name' }, side: 'crm' as const, oldValues: {}, detail: null } };

  it('hands a driver without history members the batch without its history, and offers no history reads', async () => {
    const { driver, writes } = fakeDriver();
    const store = defineStore(driver);
    expect(store.listFieldHistory).toBeUndefined();
    expect(store.pruneFieldHistory).toBeUndefined();
    await store.commit({ entity: 'e', records: [write('a')], history, fanOuts: [fanOut] });
    expect(writes).toHaveLength(1);
    expect(writes[0]).toEqual({ entity: 'e', records: [write('a')], fanOuts: [{ entity: 'c', accountId: 'x', company: { name: 'y' } }] });
  });

  it('hands a driver with both history members the whole batch, and passes the reads through (fenced too)', async () => {
    const page = { items: [], next: null, recordCreatedAt: null };
    const { driver, writes } = fakeDriver(undefined, { listFieldHistory: async () => page, pruneFieldHistory: async () => 3 });
    const store = defineStore(driver);
    await store.commit({ entity: 'e', history, fanOuts: [fanOut] });
    expect(writes[0]).toEqual({ entity: 'e', history, fanOuts: [fanOut] });
    expect(await store.listFieldHistory?.({ entity: 'e', recordId: 'a', field: 'name', limit: 1 })).toEqual(page);
    const fenced = fencedStore(store, () => undefined);
    expect(await fenced.pruneFieldHistory?.('2026-01-01T00:00:00.000Z')).toBe(3);
  });
});
