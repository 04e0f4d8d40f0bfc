import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalRecord } from '@crm-sync/core';
import { storeConformance } from '@crm-sync/store-testkit';
import { openFileStore } from '../src/index.js';

/** The file as saved: the backdoor reads what a commit left on disk, not the store's memory. */
async function saved(path: string): Promise<{ records: LocalRecord[]; checkpoints: Record<string, string>; activities: unknown[] }> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], checkpoints: {}, activities: [] };
    throw error;
  }
}

storeConformance('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'file-store-'));
  const path = join(dir, 'data.json');
  return {
    store: await openFileStore({ path }),
    raw: {
      async readRecord(entity, id) {
        const r = (await saved(path)).records.find((x) => x.entity === entity && x.id === id);
        return r ? { id: r.id, crmId: r.crmId, fields: r.fields, revision: r.revision } : null;
      },
      async readCheckpoint(entity) {
        return (await saved(path)).checkpoints[entity] ?? null;
      },
      async countActivities() {
        return (await saved(path)).activities.length;
      },
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}, {
  skip: {
    // No leases: one process owns the file (capabilities.leases is false, and core's defineStore
    // refuses a batch with a lease for such a store, tested in core's define-store.test.ts).
    'acquireLease(entity) gives the lease to one owner until it expires or is released': true,
    'acquireLease(entity) takes over an expired lease': true,
    'commit(lease) writes only while the owner holds the lease, else LEASE_LOST and nothing written': true,
  },
});
