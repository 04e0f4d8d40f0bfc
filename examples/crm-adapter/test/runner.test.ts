import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const runnerDir = fileURLToPath(new URL('../../../apps/runner/', import.meta.url));

/** `crm-sync <args>` as users run it from a checkout (the runner's sources through tsx), in `cwd`. */
async function crmSync(args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--conditions=@crm-sync/source', 'src/cli.ts', ...args], {
      cwd: runnerDir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      maxBuffer: 16 << 20,
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(async () => {
  // The runner loads the built package, as it would from an install.
  await run('pnpm', ['exec', 'tsup'], { cwd: packageDir, env: { ...process.env, CRM_SYNC_BUILD_DTS: '0' } });
}, 120_000);

describe('the example CRM as a runner plugin', () => {
  it('is loaded by crm-sync from a config file and syncs end to end (sync --once)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crm-sync-memory-crm-'));
    const config = join(dir, 'crm-sync.json');
    writeFileSync(config, JSON.stringify({
      plugins: [join(packageDir, 'dist', 'index.js')],
      crm: { kind: 'memory-crm', accounts: 3, contactsPerAccount: 4, leads: 5 },
      store: { kind: 'memory' },
      log: { format: 'json' },
    }));
    const result = await crmSync(['sync', '--once', '--json', '--config', config]);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { ok: boolean; entities: Array<{ entity: string; status: string; applied: number }> };
    expect(summary.ok).toBe(true);
    const applied = Object.fromEntries(summary.entities.map((e) => [e.entity, e.applied]));
    expect(applied).toMatchObject({ account: 3, contact: 12, lead: 5, opportunity: 0 });

    // Its options are validated by its own schema, errors named by path.
    writeFileSync(config, JSON.stringify({ plugins: [join(packageDir, 'dist', 'index.js')], crm: { kind: 'memory-crm', accounts: -1, colour: 'red' } }));
    const refused = await crmSync(['sync', '--once', '--config', config]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('crm.accounts: ');
    expect(refused.stderr).toContain('crm: unknown key "colour"');
  }, 180_000);
});
