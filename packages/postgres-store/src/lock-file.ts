import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname, uptime } from 'node:os';
import { join } from 'node:path';
import { SyncError } from '@crm-sync/core';

export const LOCK_FILE = 'crm-sync.lock';

/** What the lock file says about the process holding the data directory. */
export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
}

function readHolder(path: string): LockHolder | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string' && typeof parsed.startedAt === 'string') {
      return { pid: parsed.pid, host: parsed.host, startedAt: parsed.startedAt };
    }
  } catch {
    // missing, or not (yet) written whole: handled below
  }
  return null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why a holder no longer holds the lock, or null while it may. Another host cannot be checked. */
function staleReason(holder: LockHolder | null): string | null {
  if (holder === null) return 'the lock file is unreadable (its process died while writing it)';
  if (holder.host !== hostname()) return null;
  const bootedAt = Date.now() - uptime() * 1000;
  if (Date.parse(holder.startedAt) < bootedAt) return `process ${holder.pid} took it before this machine last started`;
  if (!alive(holder.pid)) return `process ${holder.pid} is no longer running`;
  return null;
}

const sameHolder = (a: LockHolder | null, b: LockHolder | null): boolean =>
  a !== null && b !== null && a.pid === b.pid && a.host === b.host && a.startedAt === b.startedAt;

/**
 * Takes the data directory for this process: `crm-sync.lock` (pid, host, start time) created
 * atomically (`wx`: it fails when the file exists). A lock whose process is gone from this host is
 * taken over, and `onNotice` told; one held by a live process (this one included), or by another
 * host, fails with STORE_UNAVAILABLE naming the directory and the holder. Returns the release.
 */
export async function takeDataDirLock(dir: string, onNotice: (message: string) => void): Promise<() => void> {
  const path = join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 5; attempt += 1) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new SyncError('STORE_UNAVAILABLE', `[embedded-store] cannot create the lock file ${path}: ${(error as Error).message}`, { cause: error });
      }
      let holder = readHolder(path);
      // A process that has just created the file may not have written it yet.
      if (holder === null) await new Promise((resolve) => setTimeout(resolve, 100));
      holder = readHolder(path);
      const reason = staleReason(holder);
      if (reason === null) {
        const who = holder as LockHolder;
        const where = who.host === me.host ? '' : ` on host ${who.host} (a lock from another machine is never taken over: check that host)`;
        throw new SyncError(
          'STORE_UNAVAILABLE',
          `[embedded-store] the data directory ${dir} is in use by process ${who.pid}${where} since ${who.startedAt}: ` +
            `one process at a time may open it. Stop that process, or delete ${path} if it is no crm-sync process.`,
          { details: { dataDir: dir, lockFile: path, holder: who } },
        );
      }
      // Re-read right before removing: a process that took it over meanwhile keeps it.
      const now = readHolder(path);
      if (holder === null ? now !== null : !sameHolder(now, holder)) continue;
      try {
        unlinkSync(path);
      } catch (unlinkError) {
        if ((unlinkError as NodeJS.ErrnoException).code !== 'ENOENT') throw unlinkError;
      }
      onNotice(`[embedded-store] took over the stale lock of ${dir}: ${reason}`);
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify(me)}\n`);
    } finally {
      closeSync(fd);
    }
    return () => {
      // Only our own lock: never one another process took over after ours was judged stale.
      if (sameHolder(readHolder(path), me)) unlinkSync(path);
    };
  }
  throw new SyncError('STORE_UNAVAILABLE', `[embedded-store] could not take the lock ${path}: other processes keep taking it`, {
    details: { dataDir: dir, lockFile: path },
  });
}
