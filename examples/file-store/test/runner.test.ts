import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CycleSummary, LocalRecord, StoreStats } from '@crm-sync/core';

// The real runner process loads the built plugin from a path in its config, as it would a plugin
// installed outside this repository; the runner itself runs from its sources.
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const runnerDir = join(packageDir, '../../apps/runner');
const pluginEntry = join(packageDir, 'dist/index.js');

/** Builds dist/ when it is missing or older than a source file (JavaScript only: the runner needs no types). */
function buildIfStale(): void {
  const built = existsSync(pluginEntry) ? statSync(pluginEntry).mtimeMs : 0;
  const sources = readdirSync(join(packageDir, 'src')).map((file) => statSync(join(packageDir, 'src', file)).mtimeMs);
  if (built > Math.max(...sources)) return;
  const tsup = join(dirname(createRequire(import.meta.url).resolve('tsup/package.json')), 'dist/cli-default.js');
  execFileSync(process.execPath, [tsup], { cwd: packageDir, env: { ...process.env, CRM_SYNC_BUILD_DTS: '0' }, stdio: 'pipe' });
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `crm-sync <args>` to its end, without anything of this environment that would configure it. */
function crmSync(args: readonly string[]): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('CRM_SYNC_') && key !== 'DATABASE_URL'));
  return new Promise((resolve, reject) => {
    // The runner's directory: `--import tsx` is resolved from there.
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@crm-sync/source', 'src/cli.ts', ...args], { cwd: runnerDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

type Summary = CycleSummary & { stats: Record<string, StoreStats> };
interface SavedFile {
  records: LocalRecord[];
  checkpoints: Record<string, string>;
}

let dir: string;
let config: string;
beforeAll(buildIfStale, 60_000);
afterEach(() => rm(dir, { recursive: true, force: true }));

async function withConfig(): Promise<void> {
  dir = await mkdtemp(join(tmpdir(), 'file-store-runner-'));
  config = join(dir, 'crm-sync.json');
  await writeFile(config, JSON.stringify({
    plugins: [pluginEntry],
    crm: { kind: 'simulator', contacts: 200, largeAccounts: [], salesStaffEdits: false },
    store: { kind: 'file', path: './data.json' },
  }, null, 2));
}

const countByEntity = (records: readonly LocalRecord[]) => {
  const counts: Record<string, number> = {};
  for (const r of records) counts[r.entity] = (counts[r.entity] ?? 0) + 1;
  return counts;
};

describe('crm-sync with the file store plugin (the real runner process and its simulator)', () => {
  it('syncs every entity into the JSON file, and a second sync --once resumes from the saved checkpoints', async () => {
    await withConfig();
    const first = await crmSync(['sync', '--once', '--json', '--config', config]);
    expect(first.stderr).not.toMatch(/"level":"error"/);
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout) as Summary;
    expect(summary.ok).toBe(true);
    const entities = summary.entities.map((e) => e.entity);
    expect(entities).toEqual(expect.arrayContaining(['account', 'contact', 'lead', 'opportunity', 'systemuser', 'team']));
    expect(summary.entities.find((e) => e.entity === 'contact')?.pulled).toBe(200);
    for (const e of summary.entities) {
      expect(e.status, e.entity).toBe('ok');
      expect(e.applied + e.filtered, e.entity).toBe(e.pulled);
      expect(summary.stats[e.entity]?.records, e.entity).toBe(e.applied); // a fresh store: each row applied is a new record
    }

    // What the summary counts is in the file: every record, with its CRM id and values, and a checkpoint per entity.
    const saved = JSON.parse(await readFile(join(dir, 'data.json'), 'utf8')) as SavedFile;
    expect(countByEntity(saved.records)).toEqual(Object.fromEntries(entities.map((e) => [e, summary.stats[e]?.records])));
    const contacts = saved.records.filter((r) => r.entity === 'contact');
    expect(contacts.length).toBeGreaterThan(100);
    expect(contacts.filter((r) => r.crmId === r.id && typeof r.fields.lastname === 'string')).toHaveLength(contacts.length);
    expect(Object.keys(saved.checkpoints).sort()).toEqual([...entities].sort());

    // The second process reads the file and goes on from the checkpoints: a full read would pull every row again.
    const second = await crmSync(['sync', '--once', '--json', '--config', config]);
    expect(second.stderr).not.toMatch(/"level":"error"/);
    expect(second.code).toBe(0);
    const again = JSON.parse(second.stdout) as Summary;
    expect(again.entities.map((e) => [e.entity, e.status, e.pulled, e.applied])).toEqual(entities.map((e) => [e, 'ok', 0, 0]));
    expect(again.stats).toEqual(summary.stats);
    const resaved = JSON.parse(await readFile(join(dir, 'data.json'), 'utf8')) as SavedFile;
    expect(resaved.records.map((r) => [r.id, r.revision])).toEqual(saved.records.map((r) => [r.id, r.revision]));
  });

  it('refuses a damaged data file, naming it, and leaves it as it was', async () => {
    await withConfig();
    const damaged = '{"format": "crm-sync-file-store", "version": 1, "records": [';
    await writeFile(join(dir, 'data.json'), damaged);
    const result = await crmSync(['sync', '--once', '--json', '--config', config]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`STORE_UNAVAILABLE: [file] ${join(dir, 'data.json')} is not valid JSON`);
    expect(result.stderr).toContain('refusing to open it');
    expect(await readFile(join(dir, 'data.json'), 'utf8')).toBe(damaged);
  });
});
