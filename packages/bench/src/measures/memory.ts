/**
 * Item 3: peak RSS of the runner (the built `crm-sync` binary, as users run it) syncing N contacts
 * into PostgreSQL: `crm-sync sync --once`, one process per run, against a simulator in another
 * process (its memory is not counted). References: the same binary listing its field plans (wired
 * up, metadata read, no sync), and the smaller run for the larger one.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Figure } from '../lib/figure.js';
import { makeFigure } from '../lib/figure.js';
import { log } from '../lib/log.js';
import { perSecond } from '../lib/stats.js';
import type { BenchEntity } from '../lib/wiring.js';
import { syncConfig } from '../lib/wiring.js';
import type { SimulatorProcess } from '../simulator/process.js';

const run = promisify(execFile);
const runnerCli = fileURLToPath(new URL('../../../../apps/runner/dist/cli.js', import.meta.url));
const peakRssPreload = fileURLToPath(new URL('./peak-rss.mjs', import.meta.url));
const ENTITIES: BenchEntity[] = ['account', 'contact'];

interface RunnerOutcome {
  peakRssMb: number;
  records: number;
  ms: number;
}

/** Runs the runner binary once with a config for this simulator and schema; returns its peak RSS. */
async function runner(options: { sim: SimulatorProcess; databaseUrl: string; schema: string; args: string[] }): Promise<RunnerOutcome> {
  if (!existsSync(runnerCli)) throw new Error(`${runnerCli} is missing: build the runner first (the root \`pnpm bench\` does, or \`pnpm build\`)`);
  const dir = mkdtempSync(join(tmpdir(), 'crm-sync-bench-'));
  try {
    const configFile = join(dir, 'config.json');
    const rssFile = join(dir, 'rss');
    const config = {
      crm: { kind: 'simulator', url: options.sim.url, auth: 'static-token' },
      store: { kind: 'postgres', schema: options.schema },
      sync: syncConfig(ENTITIES),
      log: { level: 'warn' },
    };
    writeFileSync(configFile, JSON.stringify(config));
    const env = { ...process.env, CRM_SYNC_DATABASE_URL: options.databaseUrl, CRM_SYNC_BENCH_RSS_FILE: rssFile };
    const started = performance.now();
    const { stdout } = await run(process.execPath, ['--import', peakRssPreload, runnerCli, ...options.args, '--json', '--config', configFile], { env, maxBuffer: 16 << 20 });
    const ms = performance.now() - started;
    const output = JSON.parse(stdout) as { entities?: Array<{ pulled?: number }> };
    const records = (output.entities ?? []).reduce((sum, entity) => sum + (entity.pulled ?? 0), 0);
    return { peakRssMb: Number(readFileSync(rssFile, 'utf8')), records, ms };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface MemoryRun {
  sim: SimulatorProcess;
  /** Schema the runner syncs into; left in place for the figures that need a synced table. */
  schema: string;
}

export async function measureMemory(options: { databaseUrl: string; small: MemoryRun; large: MemoryRun }): Promise<Figure[]> {
  const { databaseUrl, small, large } = options;
  const migrate = (target: MemoryRun) => runner({ ...target, databaseUrl, args: ['migrate'] });
  await migrate({ sim: small.sim, schema: 'memory_idle' });
  const idle = await runner({ sim: small.sim, databaseUrl, schema: 'memory_idle', args: ['fields', 'list'] });
  log(`  runner listing its field plans: ${idle.peakRssMb.toFixed(0)} MB`);
  const outcomes: RunnerOutcome[] = [];
  for (const target of [small, large]) {
    await migrate(target);
    const outcome = await runner({ ...target, databaseUrl, args: ['sync', '--once'] });
    outcomes.push(outcome);
    log(`  ${outcome.records} records: ${outcome.peakRssMb.toFixed(0)} MB peak, ${Math.round(perSecond(outcome.records, outcome.ms))} records/s`);
  }
  const [smallRun, largeRun] = outcomes as [RunnerOutcome, RunnerOutcome];
  const contacts = (target: MemoryRun) => target.sim.dataset.counts.contact.toLocaleString('en-US');
  return [
    makeFigure({
      key: 'memory.small', item: 3, label: `Peak RSS, runner syncing ${contacts(small)} contacts into PostgreSQL`, unit: 'MB',
      reference: { label: 'the runner listing its field plans (no sync)', unit: 'MB' },
      runs: [{ value: smallRun.peakRssMb, reference: idle.peakRssMb }],
      note: `${Math.round(perSecond(smallRun.records, smallRun.ms))} records/s, process start to exit`,
    }),
    makeFigure({
      key: 'memory.large', item: 3, label: `Peak RSS, runner syncing ${contacts(large)} contacts into PostgreSQL`, unit: 'MB',
      reference: { label: `the ${contacts(small)}-contact run`, unit: 'MB' }, target: '≤ 1.2× and ≤ 300 MB',
      runs: [{ value: largeRun.peakRssMb, reference: smallRun.peakRssMb }],
      met: ({ value, ratio }) => ratio <= 1.2 && value <= 300,
      note: `${Math.round(perSecond(largeRun.records, largeRun.ms))} records/s; \`crm-sync sync --once\` (built), one process per run, one run each`,
    }),
  ];
}
