import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isSyncError } from '@crm-sync/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmbeddedStore, LOCK_FILE } from '../src/embedded.js';
import { migrations } from '../src/migrations.js';

const root = mkdtempSync(join(tmpdir(), 'crm-sync-embedded-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `data-${++dirs}`, 'nested');

/** Runs test/fixtures/hold-store.ts: another process opening the same data directory. */
function otherProcess(dataDir: string) {
  const child = spawn(process.execPath, ['--conditions=@crm-sync/source', '--import', 'tsx', fileURLToPath(new URL('./fixtures/hold-store.ts', import.meta.url))], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { ...process.env, DATA_DIR: dataDir },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const first = new Promise<{ opened: boolean; code?: string; message?: string; pid?: number }>((resolve) => {
    createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, first, exited };
}

/** The pid of a process that has exited: nobody runs under it (until the system reuses it). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid as number;
}

describe('createEmbeddedStore', () => {
  it('creates the data directory owner-only, keeps data across close and reopen, and says what it can do', async () => {
    const dataDir = freshDir();
    const store = await createEmbeddedStore({ dataDir });
    try {
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(store.capabilities).toEqual({ persistent: true, sharedAcrossProcesses: false, leases: false });
      expect(store.acquireLease).toBeUndefined();
      expect(store.migrated).toEqual(migrations.map((m) => m.version));
      const { rows } = await store.driver.query<{ shared_buffers: string }>("select current_setting('shared_buffers') as shared_buffers");
      expect(rows[0]?.shared_buffers).toBe('16MB');
      await store.commit({ entity: 'contact', records: [{ id: 'c1', expectedRevision: 0, crmId: 'c1', fields: { lastname: 'Lovelace' } }], checkpoint: 'cp-1' });
    } finally {
      await store.close();
    }
    expect(existsSync(join(dataDir, LOCK_FILE)), 'close() removes the lock file').toBe(false);
    const again = await createEmbeddedStore({ dataDir });
    try {
      expect(again.migrated).toEqual([]);
      expect((await again.getRecords('contact', ['c1']))[0]).toMatchObject({ revision: 1, fields: { lastname: 'Lovelace' } });
      expect(await again.getCheckpoint('contact')).toBe('cp-1');
    } finally {
      await again.close();
    }
  }, 60_000);

  it('refuses a second opener while the directory is held, in this process and in another, naming the directory and the pid', async () => {
    const dataDir = freshDir();
    const store = await createEmbeddedStore({ dataDir });
    try {
      const lock = JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8'));
      expect(lock).toMatchObject({ pid: process.pid, host: hostname() });
      expect(Number.isNaN(Date.parse(lock.startedAt))).toBe(false);
      const error = await createEmbeddedStore({ dataDir }).catch((e: unknown) => e);
      expect(isSyncError(error, 'STORE_UNAVAILABLE')).toBe(true);
      expect((error as Error).message).toContain(`the data directory ${dataDir} is in use by process ${process.pid}`);
      const other = otherProcess(dataDir);
      const answer = await other.first;
      expect(answer).toMatchObject({ opened: false, code: 'STORE_UNAVAILABLE' });
      expect(answer.message).toContain(`${dataDir} is in use by process ${process.pid}`);
      expect(await other.exited).toBe(3);
      // Refused openers leave the holder's lock and data alone.
      await store.commit({ entity: 'lead', checkpoint: 'still mine' });
      expect(await store.getCheckpoint('lead')).toBe('still mine');
    } finally {
      await store.close();
    }
    // Released: the other process opens it now, and this one is refused while it holds it.
    const other = otherProcess(dataDir);
    const answer = await other.first;
    expect(answer.opened).toBe(true);
    const error = await createEmbeddedStore({ dataDir }).catch((e: unknown) => e);
    expect((error as Error).message).toContain(`is in use by process ${answer.pid}`);
    other.child.stdin?.end();
    expect(await other.exited).toBe(0);
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  }, 90_000);

  it('takes over a stale lock (its process is gone) and says so; a lock from another host is refused', async () => {
    const dataDir = freshDir();
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const lockFile = join(dataDir, LOCK_FILE);
    const pid = await deadPid();
    writeFileSync(lockFile, JSON.stringify({ pid, host: hostname(), startedAt: new Date().toISOString() }));
    // It also died creating the database: its half-made copy goes, a whole one is made.
    mkdirSync(join(dataDir, `pgdata.creating-${pid}`));
    writeFileSync(join(dataDir, `pgdata.creating-${pid}`, 'PG_VERSION'), '18');
    const notices: string[] = [];
    const store = await createEmbeddedStore({ dataDir, onNotice: (m) => notices.push(m) });
    try {
      expect(notices).toEqual([`[embedded-store] took over the stale lock of ${dataDir}: process ${pid} is no longer running`]);
      expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid).toBe(process.pid);
      expect(readdirSync(dataDir).sort()).toEqual([LOCK_FILE, 'pgdata']);
      await store.commit({ entity: 'lead', checkpoint: 'works' });
    } finally {
      await store.close();
    }
    writeFileSync(lockFile, JSON.stringify({ pid: process.pid, host: 'elsewhere.example', startedAt: new Date().toISOString() }));
    const error = await createEmbeddedStore({ dataDir }).catch((e: unknown) => e);
    expect(isSyncError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(/in use by process \d+ on host elsewhere\.example/);
    expect(existsSync(lockFile), "another host's lock stays").toBe(true);
    rmSync(lockFile);
  }, 60_000);

  it('refuses a directory holding other files, a bad dataDir, and tightens a directory others can read', async () => {
    const busy = freshDir();
    mkdirSync(busy, { recursive: true });
    writeFileSync(join(busy, 'notes.txt'), 'not a database');
    const error = await createEmbeddedStore({ dataDir: busy }).catch((e: unknown) => e);
    expect(isSyncError(error, 'CONFIG_INVALID') && error.message).toMatch(/holds other files and no crm-sync database/);
    for (const dataDir of ['', '  ', 42]) {
      const bad = await createEmbeddedStore({ dataDir } as never).catch((e: unknown) => e);
      expect(isSyncError(bad, 'CONFIG_INVALID') && bad.message).toMatch(/dataDir must be a directory path/);
    }
    const buffers = await createEmbeddedStore({ dataDir: freshDir(), sharedBuffers: 'lots' }).catch((e: unknown) => e);
    expect(isSyncError(buffers, 'CONFIG_INVALID') && buffers.message).toMatch(/sharedBuffers must be a size such as 32MB \(got "lots"\)/);
    const open = freshDir();
    mkdirSync(open, { recursive: true, mode: 0o755 });
    const notices: string[] = [];
    const store = await createEmbeddedStore({ dataDir: open, onNotice: (m) => notices.push(m) });
    await store.close();
    expect(statSync(open).mode & 0o777).toBe(0o700);
    expect(notices).toEqual([`[embedded-store] ${open} was readable by others (mode 755): now owner-only (700)`]);
  }, 60_000);
});
