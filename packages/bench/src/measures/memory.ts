/**
 * Item 3: peak RSS of a runner syncing N contacts into PostgreSQL, each run in its own process
 * (the simulator is another process, so its memory is not counted). References: a runner that
 * only holds the engine idle, and the smaller run for the larger one.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Figure } from '../lib/figure.js';
import { makeFigure } from '../lib/figure.js';
import { log } from '../lib/log.js';
import { perSecond } from '../lib/stats.js';
import type { BenchEntity } from '../lib/wiring.js';
import type { SimulatorProcess } from '../simulator/process.js';
import type { MemoryChildInput, MemoryChildOutput } from './memory-child.js';

const run = promisify(execFile);
const childScript = fileURLToPath(new URL('./memory-child.ts', import.meta.url));
const ENTITIES: BenchEntity[] = ['account', 'contact'];

async function runner(input: MemoryChildInput): Promise<MemoryChildOutput> {
  const { stdout } = await run(process.execPath, ['--conditions=@crm-sync/source', '--import', 'tsx', childScript, JSON.stringify(input)], {
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as MemoryChildOutput;
}

export interface MemoryRun {
  sim: SimulatorProcess;
  /** Schema the runner syncs into; left in place for the figures that need a synced table. */
  schema: string;
}

export async function measureMemory(options: { databaseUrl: string; small: MemoryRun; large: MemoryRun }): Promise<Figure[]> {
  const { databaseUrl, small, large } = options;
  await small.sim.control.resetLimits();
  const idle = await runner({ simulatorUrl: small.sim.url, databaseUrl, schema: 'memory_idle', mode: 'idle', entities: ENTITIES });
  log(`  idle runner: ${idle.peakRssMb.toFixed(0)} MB`);
  const outcomes: MemoryChildOutput[] = [];
  for (const target of [small, large]) {
    await target.sim.control.resetLimits(); // a fresh x-ms-ratelimit window (limits are off)
    const outcome = await runner({ simulatorUrl: target.sim.url, databaseUrl, schema: target.schema, mode: 'sync', entities: ENTITIES });
    outcomes.push(outcome);
    log(`  ${outcome.records} records: ${outcome.peakRssMb.toFixed(0)} MB peak, ${Math.round(perSecond(outcome.records, outcome.ms))} records/s`);
  }
  const [smallRun, largeRun] = outcomes as [MemoryChildOutput, MemoryChildOutput];
  const contacts = (target: MemoryRun) => target.sim.dataset.counts.contact.toLocaleString('en-US');
  return [
    makeFigure({
      key: 'memory.small', item: 3, label: `Peak RSS, runner syncing ${contacts(small)} contacts into PostgreSQL`, unit: 'MB',
      reference: { label: 'runner holding the engine idle', unit: 'MB' },
      runs: [{ value: smallRun.peakRssMb, reference: idle.peakRssMb }],
      note: `${Math.round(perSecond(smallRun.records, smallRun.ms))} records/s`,
    }),
    makeFigure({
      key: 'memory.large', item: 3, label: `Peak RSS, runner syncing ${contacts(large)} contacts into PostgreSQL`, unit: 'MB',
      reference: { label: `the ${contacts(small)}-contact run`, unit: 'MB' }, target: '≤ 1.2× and ≤ 300 MB',
      runs: [{ value: largeRun.peakRssMb, reference: smallRun.peakRssMb }],
      met: ({ value, ratio }) => ratio <= 1.2 && value <= 300,
      note: `${Math.round(perSecond(largeRun.records, largeRun.ms))} records/s; one process per run, one run each`,
    }),
  ];
}
