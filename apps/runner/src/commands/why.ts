import { parseArgs } from 'node:util';
import { createEntityRegistry, isSyncError, readFieldHistory } from '@crm-sync/core';
import type { FieldHistoryReport, FieldHistoryStep, SyncStore } from '@crm-sync/core';
import { commonOptions, prepare } from '../cli/prepare.js';
import type { LoadedConfig } from '../config/load.js';
import { EXIT, cliExit, writeJson } from '../cli/io.js';
import type { CliIo } from '../cli/io.js';
import { configuredRunnerUrl, findRunner } from '../cli/runner-client.js';
import type { RunnerClient } from '../cli/runner-client.js';
import { formatTable } from '../cli/table.js';
import { describeStore, openStore } from '../wiring/store.js';

const USAGE = 'Usage: crm-sync why ENTITY ID FIELD [--json] [--url URL]   (FIELD: a field name, or company.<field> for an account field on a contact)';
const FIELD = /^(company\.)?[a-z][a-z0-9_]*$/;
const PAGE = 1_000;

/**
 * `crm-sync why E ID FIELD`: why a field of a record holds its value, every value it held locally,
 * oldest first, with when, the side and the rule. Asks the running runner (its API); with no runner
 * and a persistent store, reads the store. Exit 0, 1 for an unknown record, 2 for bad usage.
 */
export async function whyCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { ...commonOptions, json: { type: 'boolean' }, url: { type: 'string' } }, allowPositionals: true, strict: true });
  if (positionals.length !== 3) throw cliExit(EXIT.usage, USAGE);
  const [entity, id, field] = positionals as [string, string, string];
  if (!FIELD.test(field)) throw cliExit(EXIT.usage, `"${field}" is not a field name (lowercase letters, digits and "_", or company.<field>)\n${USAGE}`);
  const { loaded } = await prepare(io, values);
  const runner = await findRunner(loaded, values.url);
  const report = runner ? await throughRunner(runner, entity, id, field) : await fromStore(loaded, entity, id, field);
  if (values.json) writeJson(io, report);
  else io.stdout.write(human(report));
  return EXIT.ok;
}

async function throughRunner(runner: RunnerClient, entity: string, id: string, field: string): Promise<FieldHistoryReport> {
  const path = `/api/v1/entities/${encodeURIComponent(entity)}/records/${encodeURIComponent(id)}/fields/${encodeURIComponent(field)}/history`;
  let report: FieldHistoryReport | null = null;
  let after: number | null = null;
  do {
    const page = (await runner.request('GET', `${path}?limit=${PAGE}${after === null ? '' : `&after=${after}`}`)) as FieldHistoryReport;
    report = report ? { ...page, steps: [...report.steps, ...page.steps] } : page;
    after = page.next;
  } while (after !== null);
  return report;
}

async function fromStore(loaded: LoadedConfig, entityName: string, id: string, field: string): Promise<FieldHistoryReport> {
  if (!loaded.plugins.store.capabilities.persistent) {
    throw cliExit(
      EXIT.failed,
      `No crm-sync runner answers at ${configuredRunnerUrl(loaded)}. With the store ${describeStore(loaded)} the state lives in the runner's process: start one with crm-sync start (or pass --url).`,
    );
  }
  const { config } = loaded;
  const registry = createEntityRegistry({ custom: config.sync.customEntities, syncFilterField: config.sync.syncFilterField });
  let entity;
  try {
    entity = registry.get(entityName);
  } catch (error) {
    if (isSyncError(error, 'ENTITY_UNKNOWN')) throw cliExit(EXIT.usage, error.message);
    throw error;
  }
  // No migrations: why only reads.
  const store: SyncStore = await openStore(loaded, { migrate: false });
  try {
    let report: FieldHistoryReport | null = null;
    let after: number | null = null;
    do {
      const page: FieldHistoryReport = await readFieldHistory(store, entity, id, field, { limit: PAGE, ...(after === null ? {} : { after }) });
      report = report ? { ...page, steps: [...report.steps, ...page.steps] } : page;
      after = page.next;
    } while (after !== null);
    return report;
  } catch (error) {
    if (isSyncError(error, 'RECORD_UNKNOWN') || isSyncError(error, 'FIELD_HISTORY_UNAVAILABLE')) throw cliExit(EXIT.failed, `${error.code}: ${error.message}`);
    throw error;
  } finally {
    await store.close().catch(() => undefined);
  }
}

const RULE: Record<FieldHistoryStep['rule'], string> = {
  create: 'created', pull: 'pull', push: 'push', collision: 'collision', 'fan-out': 'account fan-out', 'quick-sync': 'Quick Sync',
  'local-edit': 'local edit', 'account-link': 'account link', 'sync-filter': 'sync filter',
};

function human(report: FieldHistoryReport): string {
  const rows = report.steps.map((s) => [
    s.at ?? '?', RULE[s.rule], s.side === 'crm' ? 'CRM' : 'local', JSON.stringify(s.value),
    s.collision ? `local ${JSON.stringify(s.collision.localValue)} vs CRM ${JSON.stringify(s.collision.crmValue)}: ${s.collision.winner === 'crm' ? 'CRM' : 'local'} won` : (s.detail ?? ''),
  ]);
  return `${report.entity} ${report.id} ${report.field} = ${JSON.stringify(report.current)}\n${formatTable(['at', 'rule', 'from', 'value', 'detail'], rows)}`;
}
