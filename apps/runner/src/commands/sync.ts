import { parseArgs } from 'node:util';
import type { CycleSummary } from '@crm-sync/core';
import { commonOptions, prepare } from '../cli/prepare.js';
import { EXIT, cliExit, writeJson } from '../cli/io.js';
import type { CliIo } from '../cli/io.js';
import { onStopSignal } from '../cli/signals.js';
import { createRuntime, statsByEntity } from '../wiring/runtime.js';
import { formatTable } from '../cli/table.js';

/** `crm-sync sync --once [--entity E]... [--json]`: one cycle; exit 0 when every entity finished. */
export async function syncCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...commonOptions, once: { type: 'boolean' }, entity: { type: 'string', short: 'e', multiple: true }, json: { type: 'boolean' } },
    strict: true,
  });
  const { loaded, logger, redactor } = prepare(io, values);
  const runtime = await createRuntime({ loaded, logger, redactor });
  const controller = new AbortController();
  const release = onStopSignal(() => {
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
    const summary = await runtime.engine.runCycle({ ...(wanted.length > 0 ? { entities: wanted } : {}), signal: controller.signal });
    const entities = summary.entities.map((e) => e.entity);
    const stats = await statsByEntity(runtime, entities);
    if (values.json) writeJson(io, { ...summary, stats });
    else io.stdout.write(humanSummary(summary, stats));
    return summary.ok ? EXIT.ok : EXIT.failed;
  } finally {
    release();
    await runtime.close();
  }
}

function humanSummary(summary: CycleSummary, stats: Record<string, { records: number; pending: number; quarantined: number }>): string {
  const rows = summary.entities.map((e) => [
    e.entity, e.status, e.pulled, e.applied, e.pushed + e.created, e.collisions, e.quarantined, stats[e.entity]?.records ?? 0,
    // An entity not run because of another one's failure says so in a few words; the failure itself is shown once.
    stats[e.entity]?.pending ?? 0, e.error ? (e.status === 'not-run' ? e.error.message : `${e.error.code}: ${e.error.message}`) : '',
  ]);
  const table = formatTable(['entity', 'status', 'pulled', 'applied', 'pushed', 'collisions', 'quarantined', 'records', 'pending', 'error'], rows);
  return `${table}\nCycle ${summary.ok ? 'finished' : 'did not finish'} in ${(summary.durationMs / 1000).toFixed(1)} s\n`;
}
