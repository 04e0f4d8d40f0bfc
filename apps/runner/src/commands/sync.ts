import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import type { CycleSummary, DryRunReport } from '@crm-sync/core';
import { commonOptions, prepare } from '../cli/prepare.js';
import { EXIT, cliExit, writeJson } from '../cli/io.js';
import type { CliIo } from '../cli/io.js';
import { findRunner } from '../cli/runner-client.js';
import { onStopSignal } from '../cli/signals.js';
import { createRuntime, statsByEntity } from '../wiring/runtime.js';
import { formatTable } from '../cli/table.js';
import { startTracing, tracingWanted } from '../tracing.js';
import { runnerVersion } from '../version.js';

/**
 * `crm-sync sync --dry-run [--entity E]... [--json] [--url URL]`: the plan of a cycle, nothing written on either
 * side, through the running runner when one answers (its store is the one the next cycle writes); exit 0.
 * `crm-sync sync --once [--entity E]... [--json]`: one cycle; exit 0 when every entity finished, 1 when
 * one failed, 128 + the signal's number when a signal stopped it first (130 for SIGINT, 143 for SIGTERM).
 */
export async function syncCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...commonOptions, once: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, entity: { type: 'string', short: 'e', multiple: true },
      json: { type: 'boolean' }, url: { type: 'string' }, otel: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.url !== undefined && !values['dry-run']) throw cliExit(EXIT.usage, '--url goes with --dry-run: sync --once runs the cycle in this process');
  const { loaded, logger, redactor } = await prepare(io, values);
  if (values['dry-run']) {
    // A running runner's store is the one its next cycle writes (a memory store lives only in that process).
    const runner = await findRunner(loaded, values.url);
    if (runner) {
      const entities = values.entity ?? [];
      const plan = (await runner.request('POST', '/api/v1/cycles', { dryRun: true, ...(entities.length > 0 ? { entities } : {}) })) as DryRunReport;
      return printPlan(io, plan, values.json === true);
    }
  }
  const tracing = tracingWanted(values.otel, io.env) ? startTracing(io.env, runnerVersion()) : null;
  const runtime = await createRuntime({ loaded, logger, redactor });
  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals | null = null;
  const release = onStopSignal((signal) => {
    stoppedBy = signal;
    logger.warn('stopping: finishing the page in hand');
    controller.abort();
  });
  try {
    const wanted = values.entity ?? [];
    for (const name of wanted) {
      if (!runtime.engine.registry.has(name)) {
        throw cliExit(EXIT.usage, `Unknown entity "${name}"; known: ${runtime.engine.registry.all.map((e) => e.name).join(', ')}`);
      }
    }
    if (values['dry-run']) {
      return printPlan(io, await runtime.engine.dryRun(wanted.length > 0 ? { entities: wanted } : {}), values.json === true);
    }
    const summary = await runtime.engine.runCycle({ ...(wanted.length > 0 ? { entities: wanted } : {}), signal: controller.signal });
    const entities = summary.entities.map((e) => e.entity);
    const stats = await statsByEntity(runtime, entities);
    const resume = summary.interrupted ? resumeHint(summary, runtime.store.capabilities.persistent) : '';
    if (resume) logger.warn('cycle interrupted', { hint: resume });
    if (values.json) writeJson(io, { ...summary, stats });
    else io.stdout.write(humanSummary(summary, stats, resume));
    if (summary.interrupted) return 128 + constants.signals[stoppedBy ?? 'SIGINT'];
    return summary.ok ? EXIT.ok : EXIT.failed;
  } finally {
    release();
    await runtime.close();
    await tracing?.shutdown().catch((error: unknown) => logger.warn('traces: the last spans could not be sent', { error: (error as Error).message }));
  }
}

/** What an interrupted cycle leaves, and whether the next run resumes it (a store that does not persist keeps nothing). */
function resumeHint(summary: CycleSummary, persistent: boolean): string {
  const done = summary.entities.filter((e) => e.status === 'ok').length;
  const next = persistent
    ? 'the next run resumes from where this one stopped (the checkpoints of the pages read are committed)'
    : 'the memory store keeps nothing after exit, so the next run starts over (keep the data in PostgreSQL to resume)';
  return `${done} of ${summary.entities.length} entities finished before the stop; ${next}`;
}

function humanSummary(summary: CycleSummary, stats: Record<string, { records: number; pending: number; quarantined: number }>, resume: string): string {
  const rows = summary.entities.map((e) => [
    e.entity, e.status, e.pulled, e.applied, e.pushed + e.created, e.collisions, e.quarantined, stats[e.entity]?.records ?? 0,
    // An entity not run because of another one's failure says so in a few words; the failure itself is shown once.
    stats[e.entity]?.pending ?? 0, e.error ? (e.status === 'not-run' ? e.error.message : `${e.error.code}: ${e.error.message}`) : '',
  ]);
  const table = formatTable(['entity', 'status', 'pulled', 'applied', 'pushed', 'collisions', 'quarantined', 'records', 'pending', 'error'], rows);
  const seconds = (summary.durationMs / 1000).toFixed(1);
  if (summary.interrupted) return `${table}\nCycle interrupted after ${seconds} s: ${resume}.\n`;
  return `${table}\nCycle ${summary.ok ? 'finished' : 'did not finish'} in ${seconds} s\n`;
}

function printPlan(io: CliIo, plan: DryRunReport, json: boolean): number {
  if (json) writeJson(io, plan);
  else io.stdout.write(humanPlan(plan));
  return plan.ok ? EXIT.ok : EXIT.failed;
}

/** The plan in a table, then each push and collision on a line of its own (as many as the plan lists). */
function humanPlan(plan: DryRunReport): string {
  const rows = plan.entities.map((e) => [
    e.entity, e.summary.status, e.created.total, e.updated.total, e.pushes.total, e.collisions.total, e.deletes.total,
    `${e.fanOuts.total} (${e.fanOuts.items.reduce((n, f) => n + f.changeDataValues, 0)})`, e.skippedFields.length,
    `${e.crmRequests.reads}/${e.crmRequests.writes}`, e.summary.error ? `${e.summary.error.code}: ${e.summary.error.message}` : '',
  ]);
  const table = formatTable(
    ['entity', 'status', 'create', 'update', 'push', 'collisions', 'deletes', 'fan-outs (change data values)', 'skipped fields', 'CRM reads/writes', 'error'],
    rows,
  );
  const lines: string[] = [];
  for (const e of plan.entities) {
    for (const p of e.pushes.items) lines.push(`${e.entity} ${p.id}: ${p.kind} in the CRM: ${Object.keys(p.fields).join(', ')}`);
    for (const c of e.collisions.items) {
      lines.push(`${e.entity} ${c.recordId}: collision on ${c.field}: local ${JSON.stringify(c.localValue)}, CRM ${JSON.stringify(c.crmValue)}, ${c.winner} wins`);
    }
    for (const d of e.deletes.items) lines.push(`${e.entity} ${d.id}: would be flagged as deleted in the CRM${d.detail ? ` (${d.detail})` : ''}`);
  }
  const details = lines.length > 0 ? `\n${lines.join('\n')}\n` : '';
  return `${table}${details}\nDry run: nothing was written to the store or the CRM (${(plan.durationMs / 1000).toFixed(1)} s of reads).\n`;
}
