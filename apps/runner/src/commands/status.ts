import { parseArgs } from 'node:util';
import { createEntityRegistry } from '@crm-sync/core';
import { commonOptions, prepare } from '../cli/prepare.js';
import type { LoadedConfig } from '../config/load.js';
import { EXIT, cliExit, writeJson } from '../cli/io.js';
import type { CliIo } from '../cli/io.js';
import { configuredRunnerUrl, findRunner } from '../cli/runner-client.js';
import { formatTable } from '../cli/table.js';
import { statusReport } from '../status-report.js';
import { describeCrm } from '../wiring/crm.js';
import { describeStore, openStore } from '../wiring/store.js';
import type { StatusReport } from '../status-report.js';

/**
 * `crm-sync status`: asks the running runner (its API); with no runner running and a persistent
 * store (`capabilities.persistent`), reads the counts from it (no last cycle then). A store that lives
 * inside the runner's process (memory) has nothing to report without a runner.
 */
export async function statusCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, options: { ...commonOptions, json: { type: 'boolean' }, url: { type: 'string' } }, strict: true });
  const { loaded } = await prepare(io, values);
  const runner = await findRunner(loaded, values.url);
  let report: StatusReport;
  let source: string;
  if (runner) {
    report = (await runner.request('GET', '/api/v1/status')) as StatusReport;
    source = `runner at ${runner.baseUrl}`;
  } else if (loaded.plugins.store.capabilities.persistent) {
    report = await storeStatus(loaded);
    source = `store ${describeStore(loaded)}; no runner answers at ${configuredRunnerUrl(loaded)}`;
  } else {
    throw cliExit(
      EXIT.failed,
      `No crm-sync runner answers at ${configuredRunnerUrl(loaded)}. With the store ${describeStore(loaded)} the state lives in the runner's process: start one with crm-sync start (or pass --url).`,
    );
  }
  if (values.json) {
    writeJson(io, { source, ...report });
    return EXIT.ok;
  }
  io.stdout.write(humanStatus(report, source));
  return EXIT.ok;
}

/** The counts a persistent store holds, read without a runner (no last cycle then). */
async function storeStatus(loaded: LoadedConfig): Promise<StatusReport> {
  const { config } = loaded;
  // No migrations here: status only reads.
  const store = await openStore(loaded, { migrate: false });
  try {
    const registry = createEntityRegistry({ custom: config.sync.customEntities, syncFilterField: config.sync.syncFilterField });
    const entities = registry.all.filter((e) => config.sync.entities[e.name]?.enabled !== false).map((e) => e.name);
    return await statusReport({
      config,
      demo: loaded.demo,
      crm: { kind: config.crm.kind, url: describeCrm(loaded) },
      registry,
      entities,
      store,
      storeDescription: describeStore(loaded),
      history: null,
      state: null,
      engine: null,
    });
  } finally {
    await store.close().catch(() => undefined);
  }
}

function humanStatus(report: StatusReport, source: string): string {
  const r = report.runner;
  const lines = [
    `Source:      ${source}`,
    // A description (status without a runner) names the kind itself.
    `CRM:         ${r.crm.url.toLowerCase().startsWith(r.crm.kind.toLowerCase()) ? '' : `${r.crm.kind} `}${r.crm.url}`,
    `Store:       ${r.store.description}`,
    `Interval:    ${Math.round(r.intervalMs / 1000)} s${r.scheduled ? '' : ' (scheduler not running)'}`,
    `Last cycle:  ${report.lastCycle ? `${report.lastCycle.finishedAt} (${report.lastCycle.ok ? 'ok' : report.lastCycle.interrupted ? 'interrupted' : 'not ok'}, ${(report.lastCycle.durationMs / 1000).toFixed(1)} s)` : 'none yet'}`,
    ...(r.cycleInProgress ? [`In progress: cycle started ${r.cycleInProgress.startedAt}`] : []),
    ...(r.nextCycleAt ? [`Next cycle:  ${r.nextCycleAt}`] : []),
    // The daily request budget: the count always, and what it does to the schedule when it does something.
    `Requests:    ${report.requests.detail}`,
    ...(report.parallelism
      ? [`Parallel:    ${report.parallelism.recommended === null ? 'the CRM has not recommended a number yet' : `CRM recommends ${report.parallelism.recommended}, this runner sends up to ${report.parallelism.concurrency ?? '?'}`} (${report.parallelism.runnersSharingOrg} runner(s) share the org)`]
      : []),
    '',
  ];
  const rows = report.entities.map((e) => [
    e.entity, e.direction === 'both' ? 'both ways' : 'from CRM', e.lastRun?.status ?? '-', e.lastRun?.pulled ?? 0,
    (e.lastRun?.pushed ?? 0) + (e.lastRun?.created ?? 0), e.stats.records, e.stats.pending, e.stats.quarantined, e.stats.crmDeleted,
  ]);
  // A change token unused for about 7 days expires: say so before it does.
  const old = report.entities.filter((e) => e.changeToken.old);
  for (const e of old) lines.push(`Warning:     ${e.entity}: last complete read ${e.changeToken.lastReadAt} (${((e.changeToken.ageMs ?? 0) / 86_400_000).toFixed(1)} days ago); its change token expires after about 7 days unused`);
  if (old.length > 0) lines.push('');
  return `${lines.join('\n')}\n${formatTable(['entity', 'direction', 'last run', 'pulled', 'pushed', 'records', 'pending', 'quarantined', 'crm-deleted'], rows)}`;
}
