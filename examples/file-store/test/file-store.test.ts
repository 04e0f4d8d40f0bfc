import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSyncError } from '@crm-sync/core';
import type { PluginContext, SyncStore } from '@crm-sync/core';
import plugin, { openFileStore } from '../src/index.js';

let dir: string;
let path: string;
const opened: SyncStore[] = [];
const openStore = async () => {
  const store = await openFileStore({ path });
  opened.push(store);
  return store;
};
const contact = (id: string, email: string) => ({ id, expectedRevision: 0, crmId: id, crmVersion: '1', fields: { emailaddress1: email }, base: { emailaddress1: email } });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'file-store-'));
  path = join(dir, 'data.json');
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('file store: persistence', () => {
  it('keeps records, checkpoints, state and logs across closing and re-opening the file', async () => {
    const first = await openStore();
    await first.commit({
      entity: 'contact',
      records: [contact('c-1', 'a@example.com'), { ...contact('c-2', 'b@example.com'), pending: ['emailaddress1'] }],
      checkpoint: 'token-1',
      state: { 'fields:contact': 'emailaddress1' },
      activities: [{ entity: 'contact', recordId: 'c-1', type: 'crm-created', source: 'crm' }],
      collisions: [{ entity: 'contact', recordId: 'c-2', field: 'emailaddress1', localValue: 'x', crmValue: 'y', winner: 'crm' }],
      quarantine: [{ entity: 'contact', recordId: 'c-3', direction: 'pull', reason: 'unreadable', payload: { row: 3 } }],
    });
    await first.close();

    const again = await openStore();
    expect((await again.getRecords('contact', ['c-1', 'c-2'])).map((r) => [r.id, r.fields.emailaddress1, r.revision, r.pending])).toEqual([
      ['c-1', 'a@example.com', 1, []],
      ['c-2', 'b@example.com', 1, ['emailaddress1']],
    ]);
    expect(await again.getCheckpoint('contact')).toBe('token-1');
    expect(await again.getState('fields:contact')).toBe('emailaddress1');
    expect(await again.stats('contact')).toEqual({ records: 2, pending: 1, crmDeleted: 0, quarantined: 1 });
    const activities = (await again.listActivities({ limit: 10 })).items;
    const collisions = (await again.listCollisions({ limit: 10 })).items;
    expect(activities.map((a) => a.type)).toEqual(['crm-created']);
    expect(collisions.map((c) => c.recordId)).toEqual(['c-2']);
    expect((await again.listQuarantine({ limit: 10 })).items.map((q) => q.payload)).toEqual([{ row: 3 }]);

    // Revisions and sequence numbers go on from the file, not from zero.
    await again.commit({ entity: 'contact', records: [{ id: 'c-1', expectedRevision: 1, fields: { emailaddress1: 'new@example.com' } }], activities: [{ entity: 'contact', recordId: 'c-1', type: 'change-data-value', source: 'crm' }] });
    const [latest] = (await again.listActivities({ limit: 1, after: activities[0]?.seq })).items;
    expect(latest?.seq).toBeGreaterThan(Math.max(activities[0]?.seq ?? 0, collisions[0]?.seq ?? 0));
    expect((await again.getRecords('contact', ['c-1']))[0]?.revision).toBe(2);
  });

  it('writes commits made without waiting in turn, none lost', async () => {
    const store = await openStore();
    await Promise.all(Array.from({ length: 5 }, (_, i) => store.commit({ entity: 'lead', records: [contact(`l-${i}`, `${i}@example.com`)] })));
    await store.close();
    expect((await (await openStore()).stats('lead')).records).toBe(5);
  });

  it('leaves memory and file as they were when saving fails, and says which file', async () => {
    const store = await openStore();
    await store.commit({ entity: 'contact', records: [contact('c-1', 'a@example.com')], checkpoint: 'token-1' });
    const before = await readFile(path, 'utf8');
    await rm(dir, { recursive: true }); // nowhere to write the temp file
    const error = await store.commit({ entity: 'contact', records: [contact('c-2', 'b@example.com')], checkpoint: 'token-2' }).catch((e: unknown) => e);
    expect(isSyncError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain(`cannot save ${path}`);
    expect(await store.getRecords('contact', ['c-2'])).toEqual([]);
    expect(await store.getCheckpoint('contact')).toBe('token-1');
    expect(JSON.parse(before).checkpoints).toEqual({ contact: 'token-1' });
  });

  it('leaves no temp file beside the data file', async () => {
    const store = await openStore();
    await store.commit({ entity: 'contact', records: [contact('c-1', 'a@example.com')] });
    expect(await readdir(dir)).toEqual(['data.json']);
  });
});

describe('file store: a file that is not its data', () => {
  it.each([
    ['not JSON', '{"format": "crm-sync-file-store", "version": 1, "rec', /is not valid JSON/],
    ['empty', '', /is not valid JSON/],
    ['another program\'s JSON', '{"users": []}', /is not a file store's data \(no "format": "crm-sync-file-store"\)/],
    ['a later version', '{"format": "crm-sync-file-store", "version": 2}', /has version 2; this store reads version 1/],
    ['damaged', '{"format": "crm-sync-file-store", "version": 1, "seq": 0, "records": {}}', /is damaged/],
  ])('is refused, named in the error and left untouched: %s', async (_case, text, problem) => {
    await writeFile(path, text);
    const error = await openFileStore({ path }).catch((e: unknown) => e);
    expect(isSyncError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(problem);
    expect((error as Error).message).toContain(`${path} `);
    expect((error as Error).message).toMatch(/refusing to open it/);
    expect(await readFile(path, 'utf8')).toBe(text);
  });
});

describe('file store plugin', () => {
  const context: PluginContext = { baseDir: '', env: {}, log: () => {} };
  const inDir = (): PluginContext => ({ ...context, baseDir: dir });

  it('is the store plugin "file", persistent, without leases', () => {
    expect([plugin.type, plugin.name, plugin.capabilities]).toEqual(['store', 'file', { persistent: true, leases: false }]);
    expect(plugin.describe({ path: './data.json' })).toBe('file ./data.json');
  });

  it('takes a path and nothing else', () => {
    expect(plugin.options.safeParse({ path: './data.json' }).success).toBe(true);
    expect(plugin.options.safeParse({ path: '' }).error?.issues[0]?.message).toMatch(/must name the JSON file/);
    expect(plugin.options.safeParse({}).error?.issues[0]?.message).toMatch(/must name the JSON file/);
    expect(plugin.options.safeParse({ path: './data.json', file: 'x' }).error?.issues[0]?.code).toBe('unrecognized_keys');
  });

  it('opens a relative path against the config file\'s directory', async () => {
    const store = await plugin.open({ path: './data.json' }, inDir());
    opened.push(store);
    await store.commit({ entity: 'contact', records: [contact('c-1', 'a@example.com')] });
    expect(JSON.parse(await readFile(path, 'utf8')).records.map((r: { id: string }) => r.id)).toEqual(['c-1']);
  });

  it('health: passes for a file to be created and for a good file, fails naming a damaged one or a missing directory', async () => {
    const health = (p: string) => plugin.health!({ path: p }, inDir());
    expect(await health('./data.json')).toMatchObject({ status: 'pass', detail: expect.stringContaining('does not exist yet') });
    const store = await plugin.open({ path: './data.json' }, inDir());
    await store.commit({ entity: 'contact', records: [contact('c-1', 'a@example.com')] });
    await store.close();
    expect(await health('./data.json')).toMatchObject({ status: 'pass', detail: `${path} is readable and writable` });
    await writeFile(path, 'not json');
    expect(await health('./data.json')).toMatchObject({ status: 'fail', detail: expect.stringContaining(`${path} is not valid JSON`) });
    expect(await health('./missing/data.json')).toMatchObject({ status: 'fail', hint: expect.stringContaining(join(dir, 'missing')) });
  });
});
