import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
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
/** A database being created, renamed to PGDATA once whole. */
const CREATING = 'pgdata.creating-';

export interface EmbeddedStoreOptions {
  /** Directory holding the database; created with owner-only permissions (0700) when missing. */
  dataDir: string;
  /** Schema holding the tables (default `crm_sync`). */
  schema?: string;
  /** Told what deserves a log line: a stale lock taken over, permissions tightened. Default: ignored. */
  onNotice?: (message: string) => void;
  /**
   * PostgreSQL's page cache inside the process (`shared_buffers`, e.g. `64MB`). Default `16MB`:
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
  if (!entries.includes(PGDATA) && entries.some((e) => e !== LOCK_FILE && !e.startsWith(CREATING))) {
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

const run = promisify(execFile);

/**
 * Creates the database of a new data directory in a child process: PGlite creates one with a second,
 * in-memory instance, which takes the process to about 750 MB, and a long-running runner would keep
 * much of that. Created beside `pgdata/` and renamed into place, so a creation cut short leaves no
 * half database (its leftover is removed by the next one, under the lock).
 */
async function createDatabase(dataDir: string): Promise<void> {
  for (const entry of readdirSync(dataDir)) {
    if (entry.startsWith(CREATING)) rmSync(join(dataDir, entry), { recursive: true, force: true });
  }
  const target = join(dataDir, `${CREATING}${process.pid}`);
  const pglite = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const script = "require(process.argv[1]).PGlite.create({ dataDir: 'file://' + process.argv[2] }).then((db) => db.close())";
  try {
    await run(process.execPath, ['-e', script, pglite, target], { maxBuffer: 1 << 20 });
  } catch (error) {
    rmSync(target, { recursive: true, force: true });
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new SyncError('STORE_UNAVAILABLE', `[embedded-store] could not create the database in ${dataDir}: ${stderr || (error as Error).message}`, { cause: error });
  }
  renameSync(target, join(dataDir, PGDATA));
}

/**
 * Opens (or creates) a persistent store in `dataDir`: PostgreSQL in this process (PGlite), the
 * PostgreSQL store's SQL and migrations. Async: it takes the directory's lock, starts PGlite (about
 * a second; the first time, when a child process creates the database, several more) and applies
 * pending migrations.
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
  const sharedBuffers = options.sharedBuffers ?? '16MB';
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
    const pgdata = join(dataDir, PGDATA);
    if (!existsSync(join(pgdata, 'PG_VERSION'))) await createDatabase(dataDir);
    // Loaded here: users of the server store never load the WebAssembly build.
    const { PGlite } = await import('@electric-sql/pglite');
    // `file://`: always files on disk, whatever the path looks like (PGlite reads `memory://`, `idb://`).
    const db = await PGlite.create({
      dataDir: `file://${pgdata}`,
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
