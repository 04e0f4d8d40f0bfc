import type { CommitOptions, FieldHistoryQuery, Lease, StoreBatch, StoreDriver, SyncStore, WriteContext } from '../contracts/store.js';
import { isSyncError, SyncError } from '../errors.js';
import { inSpan, spanNames } from '../tracing.js';
import { validateBatch } from './validate.js';

/**
 * The `SyncStore` of a driver: the driver stores, the wrapper does the rest once for every store
 * (see `StoreDriver` in contracts/store.ts). Errors the driver throws that are not `SyncError`s
 * become STORE_UNAVAILABLE with the original as `cause`.
 */
export function defineStore(driver: StoreDriver): SyncStore {
  const name = driver.name;
  const leases = driver.capabilities.leases && typeof driver.acquireLease === 'function';
  // Field history is kept only by a driver with both history members; others never see its entries.
  const history = typeof driver.listFieldHistory === 'function' && typeof driver.pruneFieldHistory === 'function';
  let closed = false;

  const wrap = (error: unknown): unknown =>
    isSyncError(error)
      ? error
      : new SyncError('STORE_UNAVAILABLE', `[${name}] ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  const open = (): void => {
    if (closed) throw new SyncError('STORE_UNAVAILABLE', `[${name}] the store is closed`);
  };
  /** A read of the driver: refused once closed, its errors wrapped. */
  const read = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      open();
      try {
        return await fn(...args);
      } catch (error) {
        throw wrap(error);
      }
    };

  /** Every commit in a span: which store, which entity, how much it writes (never what). */
  function commit(batch: StoreBatch, options?: CommitOptions): Promise<void> {
    const attributes = {
      'crm_sync.store': name, 'crm_sync.entity': batch.entity, 'crm_sync.records': batch.records?.length ?? 0,
      'crm_sync.deletes': batch.deletes?.length ?? 0, 'crm_sync.activities': batch.activities?.length ?? 0,
      'crm_sync.fan_outs': batch.fanOuts?.length ?? 0, 'crm_sync.chained': options?.after !== undefined,
    };
    return inSpan(spanNames.commit, attributes, () => commitNow(batch, options));
  }

  async function commitNow(batch: StoreBatch, options?: CommitOptions): Promise<void> {
    // The commit before: its failure is this commit's failure, passed on as it is.
    let failedBefore: { error: unknown } | null = null;
    const turn = options?.after === undefined
      ? null
      : Promise.resolve(options.after).then(
        () => undefined,
        (error: unknown) => {
          failedBefore = { error };
          throw error;
        },
      );
    turn?.catch(() => undefined); // a driver that fails before awaiting it leaves it unobserved
    try {
      validateBatch(name, batch, leases);
      if (turn && !driver.writesAhead) await turn;
      open();
      const lease: Lease | null = batch.lease ?? null;
      const context: WriteContext = {
        turn: driver.writesAhead ? turn : null,
        lease,
        leaseLost() {
          throw new SyncError('LEASE_LOST', `[${name}] ${lease?.owner ?? 'this runner'} no longer holds the lease on ${batch.entity}`, {
            details: { entity: batch.entity, owner: lease?.owner ?? null },
          });
        },
        conflict(ids) {
          throw new SyncError('STORE_CONFLICT', `[${name}] ${ids.length} ${batch.entity} record(s) changed since read: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''}`, {
            details: { entity: batch.entity, ids: [...ids] },
          });
        },
      };
      await driver.write(history ? batch : withoutHistory(batch), context);
    } catch (error) {
      if (failedBefore !== null) throw (failedBefore as { error: unknown }).error;
      throw wrap(error);
    }
  }

  const store: SyncStore = {
    name,
    capabilities: driver.capabilities,
    commit,
    getCheckpoint: read((entity) => driver.getCheckpoint(entity)),
    getState: read((key) => driver.getState(key)),
    getRecords: read((entity, ids) => driver.getRecords(entity, ids)),
    getRecordsByCrmId: read((entity, crmIds) => driver.getRecordsByCrmId(entity, crmIds)),
    listRecords: read((entity, options) => driver.listRecords(entity, options)),
    listOutbox: read((entity, options) => driver.listOutbox(entity, options)),
    listUnseen: read((entity, snapshotId, options) => driver.listUnseen(entity, snapshotId, options)),
    countByAccount: read((entity, accountIds) => driver.countByAccount(entity, accountIds)),
    listActivities: read((options) => driver.listActivities(options)),
    listCollisions: read((options) => driver.listCollisions(options)),
    listQuarantine: read((options) => driver.listQuarantine(options)),
    stats: read((entity) => driver.stats(entity)),
    ...(driver.listState ? { listState: read((prefix: string) => (driver.listState as NonNullable<StoreDriver['listState']>).call(driver, prefix)) } : {}),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await driver.close?.();
      } catch (error) {
        throw wrap(error);
      }
    },
  };
  if (history) {
    const { listFieldHistory, pruneFieldHistory } = driver;
    store.listFieldHistory = read((query: FieldHistoryQuery) => (listFieldHistory as NonNullable<typeof listFieldHistory>).call(driver, query));
    store.pruneFieldHistory = read((before: string) => (pruneFieldHistory as NonNullable<typeof pruneFieldHistory>).call(driver, before));
  }
  if (leases) {
    const { acquireLease, releaseLease } = driver;
    store.acquireLease = read((entity: string, lease: Lease) => (acquireLease as NonNullable<typeof acquireLease>).call(driver, entity, lease));
    store.releaseLease = read(async (entity: string, owner: string) => {
      await releaseLease?.call(driver, entity, owner);
    });
    const { leaseOwners } = driver;
    if (leaseOwners) store.leaseOwners = read(() => leaseOwners.call(driver));
  }
  return store;
}

/** The batch without field history entries (a driver that keeps none). */
function withoutHistory(batch: StoreBatch): StoreBatch {
  const fanOuts = batch.fanOuts;
  if (batch.history === undefined && !fanOuts?.some((f) => f.history !== undefined)) return batch;
  const { history: _dropped, ...rest } = batch;
  return fanOuts ? { ...rest, fanOuts: fanOuts.map(({ history: _h, ...f }) => f) } : rest;
}

/**
 * A store whose commits carry the lease `leaseOf` gives for the batch's entity (fencing: a runner
 * writes an entity only while it holds its lease); everything else is the store's.
 */
export function fencedStore(store: SyncStore, leaseOf: (entity: string) => Lease | undefined): SyncStore {
  const fenced: SyncStore = {
    name: store.name,
    capabilities: store.capabilities,
    commit(batch, options) {
      const lease = leaseOf(batch.entity);
      return store.commit(lease ? { ...batch, lease } : batch, options);
    },
    getCheckpoint: (entity) => store.getCheckpoint(entity),
    getState: (key) => store.getState(key),
    getRecords: (entity, ids) => store.getRecords(entity, ids),
    getRecordsByCrmId: (entity, crmIds) => store.getRecordsByCrmId(entity, crmIds),
    listRecords: (entity, options) => store.listRecords(entity, options),
    listOutbox: (entity, options) => store.listOutbox(entity, options),
    listUnseen: (entity, snapshotId, options) => store.listUnseen(entity, snapshotId, options),
    countByAccount: (entity, accountIds) => store.countByAccount(entity, accountIds),
    listActivities: (options) => store.listActivities(options),
    listCollisions: (options) => store.listCollisions(options),
    listQuarantine: (options) => store.listQuarantine(options),
    stats: (entity) => store.stats(entity),
    close: () => store.close(),
  };
  if (store.listFieldHistory) fenced.listFieldHistory = (query) => (store.listFieldHistory as NonNullable<SyncStore['listFieldHistory']>)(query);
  if (store.pruneFieldHistory) fenced.pruneFieldHistory = (before) => (store.pruneFieldHistory as NonNullable<SyncStore['pruneFieldHistory']>)(before);
  if (store.acquireLease) fenced.acquireLease = (entity, lease) => (store.acquireLease as NonNullable<SyncStore['acquireLease']>)(entity, lease);
  if (store.releaseLease) fenced.releaseLease = (entity, owner) => (store.releaseLease as NonNullable<SyncStore['releaseLease']>)(entity, owner);
  const { leaseOwners, listState } = store;
  if (leaseOwners) fenced.leaseOwners = () => leaseOwners.call(store);
  if (listState) fenced.listState = (prefix) => listState.call(store, prefix);
  return fenced;
}
