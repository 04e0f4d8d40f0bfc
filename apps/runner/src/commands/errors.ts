import { parseArgs } from 'node:util';
import { isSyncError } from '@crm-sync/core';
import type { ReplayFilter, ReplayReport } from '@crm-sync/core';
import { commonOptions, prepare } from '../cli/prepare.js';
import { EXIT, cliExit, writeJson } from '../cli/io.js';
import type { CliIo } from '../cli/io.js';
import { findRunner } from '../cli/runner-client.js';
import { formatTable } from '../cli/table.js';
import { createRuntime } from '../wiring/runtime.js';

const USAGE =
  'Usage: crm-sync errors replay [--id N]... [--entity E] [--reason TEXT] [--since TIME] [--until TIME] [--all] [--json] [--url URL]';

/** An ISO-8601 time for --since and --until; anything else is bad usage, named. */
function instant(option: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text) || Number.isNaN(Date.parse(text))) {
    throw cliExit(EXIT.usage, `--${option} "${text}" is not an ISO-8601 time (e.g. 2026-12-05T08:00:00Z)`);
  }
  return new Date(text).toISOString();
}

/**
 * `crm-sync errors replay ...`: retries quarantined records and refused pushes once their cause is
 * fixed. Through the running runner when one answers; otherwise straight on the store, which must
 * keep its data (a memory store of this process would hold no entries). Exit 0 when every entry
 * matched was applied, 1 when one still fails or was skipped.
 */
export async function errorsCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...commonOptions, json: { type: 'boolean' }, url: { type: 'string' }, id: { type: 'string', multiple: true }, entity: { type: 'string' },
      reason: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, all: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1 || positionals[0] !== 'replay') throw cliExit(EXIT.usage, USAGE);
  const ids = (values.id ?? []).map((text) => {
    if (!/^[1-9]\d*$/.test(text)) throw cliExit(EXIT.usage, `--id "${text}" is not a quarantine entry id (a whole number from crm-sync's sync errors, the seq column)`);
    return Number(text);
  });
  const since = instant('since', values.since);
  const until = instant('until', values.until) ?? (values.all ? new Date().toISOString() : undefined);
  if (since && until && since >= until) throw cliExit(EXIT.usage, `--until (${until}) must be after --since (${since})`);
  const filter: ReplayFilter = {
    ...(ids.length > 0 ? { seqs: ids } : {}),
    ...(values.entity ? { entity: values.entity } : {}),
    ...(values.reason ? { reason: values.reason } : {}),
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
  };
  if (Object.keys(filter).length === 0) throw cliExit(EXIT.usage, `Name the entries to replay (--id, --entity, --reason, --since, --until), or --all.\n${USAGE}`);

  const prepared = await prepare(io, values);
  const runner = await findRunner(prepared.loaded, values.url);
  let report: ReplayReport;
  if (runner) {
    const { seqs, ...rest } = filter;
    report = (await runner.request('POST', '/api/v1/quarantine/replay', { ...rest, ...(seqs ? { ids: seqs } : {}) })) as ReplayReport;
  } else {
    const runtime = await createRuntime(prepared);
    try {
      if (!runtime.store.capabilities.persistent) {
        throw cliExit(EXIT.failed, 'No runner is running and the store is the memory store: replay through the running runner (crm-sync start, then this command).');
      }
      report = await runtime.engine.replay(filter);
    } catch (error) {
      if (isSyncError(error, 'ENTITY_UNKNOWN')) throw cliExit(EXIT.usage, error.message);
      if (isSyncError(error, 'QUARANTINE_ENTRY_UNKNOWN')) throw cliExit(EXIT.failed, `${error.code}: ${error.message}`);
      throw error;
    } finally {
      await runtime.close();
    }
  }
  if (values.json) writeJson(io, report);
  else {
    const rows = report.entries.map((e) => [String(e.seq), e.entity, e.recordId ?? '', e.direction, e.outcome, e.reason ?? '']);
    const table = rows.length > 0 ? formatTable(['id', 'entity', 'record', 'direction', 'outcome', 'reason'], rows) : '';
    const more = report.more ? ' More entries match: run it again for the rest.' : '';
    io.stdout.write(`${table}Replayed ${report.entries.length} of ${report.matched}: ${report.applied} applied, ${report.failed} still failing, ${report.skipped} skipped.${more}\n`);
  }
  return report.failed + report.skipped === 0 ? EXIT.ok : EXIT.failed;
}
