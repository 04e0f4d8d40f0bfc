import { parseArgs } from 'node:util';
import { isSyncError } from '@crm-sync/core';
import type { AddFieldResult } from '@crm-sync/core';
import { commonOptions, prepare } from '../cli/prepare.js';
import type { Prepared } from '../cli/prepare.js';
import { EXIT, cliExit, writeJson } from '../cli/io.js';
import type { CliIo } from '../cli/io.js';
import { findRunner } from '../cli/runner-client.js';
import type { RunnerClient } from '../cli/runner-client.js';
import { formatFieldPlan } from '../field-plan.js';
import type { EntityFieldPlan } from '../field-plan.js';
import { createRuntime } from '../wiring/runtime.js';
import type { Runtime } from '../wiring/runtime.js';

const USAGE = 'Usage: crm-sync fields list [entity] | crm-sync fields add <entity> <field>';

/**
 * `crm-sync fields list [E]` and `crm-sync fields add E F` (Quick Sync). They go through the running
 * runner when one answers; otherwise straight to the CRM and the store (adding a field that way
 * needs a persistent store: a memory store would be thrown away at exit).
 */
export async function fieldsCommand(args: string[], io: CliIo): Promise<number> {
  try {
    return await fields(args, io);
  } catch (error) {
    // An unknown entity or field name is bad usage, as with `sync --entity` (exit 2, the same message).
    if (isSyncError(error, 'ENTITY_UNKNOWN') || isSyncError(error, 'FIELD_NOT_IN_CRM')) throw cliExit(EXIT.usage, error.message);
    // A field that cannot be added: exit 1 with the reason.
    if (isSyncError(error, 'FIELD_NOT_READABLE') || isSyncError(error, 'FIELD_NOT_ADDABLE')) throw cliExit(EXIT.failed, `${error.code}: ${error.message}`);
    throw error;
  }
}

async function fields(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...commonOptions, json: { type: 'boolean' }, url: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const [action, entity, field, ...extra] = positionals;
  if (extra.length > 0 || (action !== 'list' && action !== 'add') || (action === 'list' && field !== undefined)) {
    throw cliExit(EXIT.usage, USAGE);
  }
  if (action === 'add' && (!entity || !field)) throw cliExit(EXIT.usage, USAGE);
  const prepared = await prepare(io, values);
  const { loaded } = prepared;
  const runner = await findRunner(loaded, values.url);

  if (action === 'add') {
    const result = runner
      ? await runner.request('POST', `/api/v1/entities/${encodeURIComponent(entity as string)}/fields`, { field })
      : await direct(prepared, async (runtime) => {
          runtime.engine.registry.get(entity as string); // an unknown entity first: it is bad usage
          // A store that keeps nothing after exit would throw the backfill away.
          if (!runtime.store.capabilities.persistent) {
            throw cliExit(
              EXIT.failed,
              'No runner is running and the store is the memory store: add the field through a running runner (crm-sync start, then this command), or to sync.entities in the config.',
            );
          }
          return runtime.engine.addField(entity as string, field as string);
        });
    const r = result as AddFieldResult;
    if (values.json) writeJson(io, r);
    else if (r.alreadySynced) io.stdout.write(`${r.entity}.${r.field} is already synced; nothing to add.\n`);
    else io.stdout.write(`Added ${r.entity}.${r.field} to the sync; Quick Sync backfilled ${r.backfilled} records.\n`);
    return EXIT.ok;
  }

  const plans = runner
    ? await listThroughRunner(runner, entity)
    : await direct(prepared, async (runtime) => {
        const names = entity ? [entity] : runtime.entities;
        const out: EntityFieldPlan[] = [];
        for (const name of names) out.push({ entity: runtime.engine.registry.get(name).name, ...(await runtime.engine.fieldPlan(name)) });
        return out;
      });
  if (values.json) writeJson(io, entity ? plans[0] : plans);
  else io.stdout.write(plans.map(formatFieldPlan).join('\n'));
  return EXIT.ok;
}

async function listThroughRunner(runner: RunnerClient, entity: string | undefined): Promise<EntityFieldPlan[]> {
  const names = entity ? [entity] : ((await runner.request('GET', '/api/v1/entities')) as { items: { entity: string }[] }).items.map((e) => e.entity);
  const out: EntityFieldPlan[] = [];
  for (const name of names) out.push((await runner.request('GET', `/api/v1/entities/${encodeURIComponent(name)}/fields`)) as EntityFieldPlan);
  return out;
}

async function direct<T>(prepared: Prepared, work: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await createRuntime(prepared);
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}
