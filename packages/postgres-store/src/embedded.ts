import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SyncStore } from '@crm-sync/core';
import { isSyncError, SyncError } from '@crm-sync/core';
import { LOCK_FILE, takeDataDirLock } from './lock-file.js';
import { migrate } from './migrations.js';
import { pgliteDriver } from './pglite-driver.js';
import type { SqlDriver } from './sql.js';
import { unavailable } from './sql.js';
import { createSqlStore } from './sql-store.js';

export { exportData, importData } from './transfer.js';
export type { TransferCounts, TransferLocation } from './transfer.js';
export { migrate, migrations } from './migrations.js';
export { pgliteDriver } from './pglite-driver.js';
export { createSqlStore } from './sql-store.js';
export type { SqlStoreOptions } from './sql-store.js';
export type { SqlDriver, SqlResult, SqlSession, SqlStatement } from './sql.js';
export { LOCK_FILE } from './lock-file.js';

/** The PostgreSQL files inside the data directory (beside the lock file). */
export const PGDATA = 'pgdata';

export interface EmbeddedStoreOptions {
  /** Directory holding the database; created with owner-only permissions (0700) when missing. */
  dataDir: string;
  /** Schema holding the tables (default `crm_sync`). */
  schema?: string;
  /** Told what deserves a log line: a stale lock taken over, permissions tightened. Default: ignored. */
  onNotice?: (message: string) => void;
  /**
   * PostgreSQL's page cache inside the process (`shared_buffers`, e.g. `64MB`). Default `32MB`:
   * PGlite's own 128MB is touched at start-up and held for good (a third of a runner's memory), and
   * the operating system caches the data files anyway.
   */
  sharedBuffers?: string;
}

export interface EmbeddedStore extends SyncStore {
  /** The data directory, absolute. */
  readonly dataDir: string;
  readonly schema: string;
  /** The driver the store runs on (for `exportData`); valid until `close()`. */
  readonly driver: SqlDriver;
  /** Migration versions applied when the store opened (empty when it was up to date). */
  readonly migrated: number[];
}

function configInvalid(message: string, issue: string): SyncError {
  return new SyncError('CONFIG_INVALID', `[embedded-store] ${message}`, { details: { issues: [issue] } });
}

/** Creates the directory (0700) or checks an existing one is a data directory and owner-only. */
function prepareDataDir(dir: string, notice: (message: string) => void): void {
  let mode: number;
  try {
    mode = statSync(dir).mode;
  } catch {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700); // whatever the umask
    return;
  }
  if ((mode & 0o170000) !== 0o040000) throw configInvalid(`dataDir ${dir} is not a directory`, 'dataDir: must be a directory');
  const entries = readdirSync(dir);
  if (!entries.includes(PGDATA) && entries.some((e) => e !== LOCK_FILE)) {
    throw configInvalid(
      `dataDir ${dir} holds other files and no crm-sync database (${PGDATA}/): choose a new or empty directory`,
      'dataDir: must be new, empty, or a crm-sync data directory',
    );
  }
  if ((mode & 0o077) !== 0) {
    chmodSync(dir, 0o700);
    notice(`[embedded-store] ${dir} was readable by others (mode ${(mode & 0o777).toString(8)}): now owner-only (700)`);
  }
}

/**
 * Opens (or creates) a persistent store in `dataDir`: PostgreSQL in this process (PGlite), the
 * PostgreSQL store's SQL and migrations. Async: it takes the directory's lock, starts PGlite (about
 * a second; the first time, when it creates the database, several) and applies pending migrations.
 * One process at a time: a second opener fails with STORE_UNAVAILABLE naming the holder. `close()`
 * stops PGlite and releases the lock.
 */
export async function createEmbeddedStore(options: EmbeddedStoreOptions): Promise<EmbeddedStore> {
  if (typeof options?.dataDir !== 'string' || options.dataDir.trim() === '') {
    throw configInvalid(`dataDir must be a directory path (got ${JSON.stringify(options?.dataDir)})`, 'dataDir: must be a non-empty path');
  }
  if (options.schema !== undefined && (typeof options.schema !== 'string' || options.schema === '')) {
    throw configInvalid(`schema must be a non-empty name (got ${JSON.stringify(options.schema)})`, 'schema: must be a non-empty name');
  }
  const sharedBuffers = options.sharedBuffers ?? '32MB';
  if (typeof sharedBuffers !== 'string' || !/^\d+(kB|MB|GB)$/.test(sharedBuffers)) {
    throw configInvalid(`sharedBuffers must be a size such as 32MB (got ${JSON.stringify(options.sharedBuffers)})`, 'sharedBuffers: a number with kB, MB or GB');
  }
  const dataDir = resolve(options.dataDir);
  const schema = options.schema ?? 'crm_sync';
  const notice = options.onNotice ?? (() => undefined);
  prepareDataDir(dataDir, notice);
  const release = await takeDataDirLock(dataDir, notice);
  let close: () => Promise<void> = async () => release();
  try {
    // Loaded here: users of the server store never load the WebAssembly build.
    const { PGlite } = await import('@electric-sql/pglite');
    // `file://`: always files on disk, whatever the path looks like (PGlite reads `memory://`, `idb://`).
    const db = await PGlite.create({
      dataDir: `file://${join(dataDir, PGDATA)}`,
      // One backend in this process: slots for a hundred connections would only hold memory.
      startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${sharedBuffers}`, '-c', 'max_connections=8'],
    });
    close = async () => {
      try {
        await db.close();
      } finally {
        release();
      }
    };
    const driver: SqlDriver = { ...pgliteDriver(db), close: () => close() };
    const migrated = await migrate(driver, schema);
    const store = createSqlStore(driver, { schema });
    return { ...store, dataDir, schema, driver, migrated };
  } catch (error) {
    await close().catch(() => undefined);
    throw isSyncError(error) ? error : unavailable('embedded', error);
  }
}
