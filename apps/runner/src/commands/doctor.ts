import { parseArgs } from 'node:util';
import { changeTokenAge, createEntityRegistry, describeTokenAge, describeUsage, isSyncError, planFields, readRequestUsage } from '@crm-sync/core';
import type { EntityDefinition, SyncStore } from '@crm-sync/core';
import { commonOptions, prepare } from '../cli/prepare.js';
import type { Prepared } from '../cli/prepare.js';
import { EXIT, writeJson } from '../cli/io.js';
import type { CliIo } from '../cli/io.js';
import type { CrmConnection } from '@crm-sync/core';
import { pluginContext } from '../config/load.js';
import type { LoadedConfig } from '../config/load.js';
import { dailyRequestBudget } from '../config/schema.js';
import type { RunnerConfig } from '../config/schema.js';
import { connectCrm, describeCrm, pluginLog } from '../wiring/crm.js';
import { describeStore, openStore } from '../wiring/store.js';
import { hint } from './doctor-hints.js';

export interface DoctorStep {
  name: string;
  status: 'pass' | 'warn' | 'fail' | 'skip';
  detail: string;
  hint?: string;
}

const message = (error: unknown) => (error instanceof Error ? `${isSyncError(error) ? `${error.code}: ` : ''}${error.message}` : String(error));

/**
 * `crm-sync doctor`, Marketo's "Validate Sync": every step passes or fails with a hint, so a new
 * installation can be fixed step by step. Exit 1 when a step fails (warnings do not fail).
 */
export async function doctorCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, options: { ...commonOptions, json: { type: 'boolean' } }, strict: true });
  const prepared = await prepare(io, values);
  const steps: DoctorStep[] = [];
  const add = (step: DoctorStep) => {
    steps.push(step);
    if (!values.json) io.stdout.write(formatStep(step, prepared));
  };
  add({
    name: 'config',
    status: 'pass',
    detail: `${prepared.loaded.file ?? (prepared.loaded.demo ? 'demo defaults' : 'environment')}: ${describeCrm(prepared.loaded)}, store ${describeStore(prepared.loaded)}`,
  });
  add(await storeStep(prepared));
  add(await changeTokenStep(prepared));
  add(await requestBudgetStep(prepared));
  await crmSteps(prepared, add);
  const failed = steps.filter((s) => s.status === 'fail').length;
  const warned = steps.filter((s) => s.status === 'warn').length;
  const passed = steps.filter((s) => s.status === 'pass').length;
  if (values.json) writeJson(io, { ok: failed === 0, passed, warnings: warned, failed, steps });
  else io.stdout.write(`\n${passed} passed, ${warned} warnings, ${failed} failed\n`);
  return failed === 0 ? EXIT.ok : EXIT.failed;
}

function formatStep(step: DoctorStep, prepared: Prepared): string {
  const label = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' }[step.status];
  const text = `${label}  ${step.name.padEnd(34)} ${step.detail}\n${step.hint ? `      hint: ${step.hint}\n` : ''}`;
  return prepared.redactor.redact(text);
}

async function storeStep({ loaded, logger }: Prepared): Promise<DoctorStep> {
  const plugin = loaded.plugins.store;
  const context = pluginContext(loaded, pluginLog(logger, plugin.name));
  if (plugin.health) return { name: 'store', ...(await plugin.health(loaded.config.store, context)) };
  // No health check of its own: open it (without migrating) and close it.
  try {
    const store = await plugin.open(loaded.config.store, context, { migrate: false });
    await store.close();
    return { name: 'store', status: 'pass', detail: `${describeStore(loaded)} opens` };
  } catch (error) {
    return { name: 'store', status: 'fail', detail: message(error), hint: hint(loaded, 'store') };
  }
}

/** A step that reads the store: opens it (no migrations), runs `check`, closes it; skipped when it does not open or the read fails. */
async function withStoreStep(name: string, { loaded }: Prepared, check: (store: SyncStore) => Promise<DoctorStep>): Promise<DoctorStep> {
  let store: SyncStore;
  try {
    store = await openStore(loaded, { migrate: false });
  } catch {
    return { name, status: 'skip', detail: 'the store does not open' };
  }
  try {
    return await check(store);
  } catch (error) {
    return { name, status: 'skip', detail: message(error) };
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** The `change tokens` step. */
const changeTokenStep = (prepared: Prepared): Promise<DoctorStep> =>
  withStoreStep('change tokens', prepared, (store) => changeTokenCheck(store, prepared.loaded.config, new Date()));

/** Entities whose change token is getting old (about 7 days unused expire it): warned before it does. */
export async function changeTokenCheck(store: SyncStore, config: RunnerConfig, now: Date): Promise<DoctorStep> {
  const registry = createEntityRegistry({ custom: config.sync.customEntities, syncFilterField: config.sync.syncFilterField });
  const old: string[] = [];
  for (const entity of registry.all.filter((e) => config.sync.entities[e.name]?.enabled !== false)) {
    const age = await changeTokenAge(store, entity.name, now, config.sync.changeTokenWarnAfterMs);
    if (age.old) old.push(describeTokenAge(age));
  }
  const days = (config.sync.changeTokenWarnAfterMs / 86_400_000).toFixed(1);
  if (old.length === 0) return { name: 'change tokens', status: 'pass', detail: `every entity read within ${days} days (or not read yet)` };
  return { name: 'change tokens', status: 'warn', detail: old.join('; '), hint: 'Start the runner (crm-sync start) or run crm-sync sync: an expired token makes the next cycle read every row again.' };
}

/** The `daily request budget` step. */
const requestBudgetStep = (prepared: Prepared): Promise<DoctorStep> =>
  withStoreStep('daily request budget', prepared, (store) => requestBudgetCheck(store, prepared.loaded.config, new Date()));

/** The rolling 24-hour request count against `crm.dailyRequestBudget`: a warning once it slows cycles down. */
export async function requestBudgetCheck(store: SyncStore, config: RunnerConfig, now: Date): Promise<DoctorStep> {
  const usage = await readRequestUsage(store, dailyRequestBudget(config.crm), now);
  const detail = describeUsage(usage);
  if (usage.state === 'ok') return { name: 'daily request budget', status: 'pass', detail };
  return {
    name: 'daily request budget',
    status: 'warn',
    detail,
    hint: "Raise crm.dailyRequestBudget if the tenant's daily entitlement leaves room for it (its licences' request limits and allocations), or sync fewer entities or fields.",
  };
}

async function crmSteps({ loaded, logger }: Prepared, add: (step: DoctorStep) => void): Promise<void> {
  const { config } = loaded;
  let tokenSeen = false;
  let crm: CrmConnection;
  try {
    crm = await connectCrm(loaded, {
      logger,
      quick: true,
      onEvent: (event) => {
        if (event.type === 'token') tokenSeen = true;
      },
    });
  } catch (error) {
    add({ name: 'crm', status: 'fail', detail: message(error), hint: hint(loaded, 'reach') });
    return;
  }
  try {
    const who = await crm.adapter.whoAmI().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    if (who.ok || tokenSeen) {
      add({ name: 'credentials', status: 'pass', detail: `signed in to ${describeCrm(loaded)}` });
    } else {
      add({ name: 'credentials', status: 'fail', detail: message(who.error), hint: credentialsHint(loaded, who.error) });
    }
    if (!who.ok) {
      // With a token, WhoAmI failing means the Web API refused the user, or could not be reached.
      const reach = isSyncError(who.error) && ['CRM_UNREACHABLE', 'CRM_UNAVAILABLE'].includes(who.error.code);
      add({ name: 'whoami', status: tokenSeen ? 'fail' : 'skip', detail: tokenSeen ? message(who.error) : 'needs credentials', ...(tokenSeen ? { hint: hint(loaded, reach ? 'reach' : 'applicationUser') } : {}) });
      return;
    }
    add({ name: 'whoami', status: 'pass', detail: `user ${who.value.userId}${who.value.organizationId ? `, organization ${who.value.organizationId}` : ''}` });
    const registry = createEntityRegistry({ custom: config.sync.customEntities, syncFilterField: config.sync.syncFilterField });
    for (const entity of registry.all.filter((e) => config.sync.entities[e.name]?.enabled !== false)) {
      await entitySteps(loaded, crm, entity, config.sync.entities[entity.name]?.fields ?? 'all', add);
    }
  } finally {
    await crm.close().catch(() => undefined);
  }
}

/** What to check when no token could be had: the credentials (refused), or the way to the authority (no answer). */
function credentialsHint(loaded: LoadedConfig, error: unknown): string {
  if (!isSyncError(error)) return hint(loaded, 'reach');
  if (error.code === 'CRM_AUTH_FAILED') return hint(loaded, 'credentials');
  const host = error.details.authorityHost;
  return error.details.step === 'token' && typeof host === 'string' ? hint(loaded, 'authority', { host }) : hint(loaded, 'reach');
}

async function entitySteps(loaded: LoadedConfig, crm: CrmConnection, entity: EntityDefinition, selection: readonly string[] | 'all', add: (step: DoctorStep) => void) {
  const name = entity.name;
  let schema;
  try {
    schema = await crm.adapter.describeEntity(entity, { fresh: true });
  } catch (error) {
    add({ name: `metadata ${name}`, status: 'fail', detail: message(error), hint: hint(loaded, entity.custom ? 'customEntity' : 'metadata', { entity: name }) });
    return;
  }
  const controller = new AbortController();
  try {
    const pages = crm.adapter.pullChanges(entity, { checkpoint: null, fields: [], signal: controller.signal })[Symbol.asyncIterator]();
    const first = await pages.next();
    controller.abort();
    await pages.return?.().catch(() => undefined);
    const rows = first.done ? 0 : first.value.upserts.length + first.value.rejected.length;
    add({ name: `read ${name}`, status: 'pass', detail: `readable (${rows} row${rows === 1 ? '' : 's'} on a first page)` });
  } catch (error) {
    controller.abort();
    add({ name: `read ${name}`, status: 'fail', detail: message(error), hint: hint(loaded, 'readPrivilege', { entity: name }) });
  }
  add(
    schema.changeTracking
      ? { name: `change tracking ${name}`, status: 'pass', detail: 'enabled' }
      : { name: `change tracking ${name}`, status: 'warn', detail: 'disabled: changes found by modifiedon, deletes only by periodic full reads', hint: hint(loaded, 'changeTracking', { entity: name }) },
  );
  const plan = planFields(entity, schema, selection);
  const secured = plan.excluded.filter((e) => e.reason === 'secured-no-read-privilege').map((e) => e.field);
  const detail = `${plan.synced.length} synced, ${plan.pushable.length} pushed, ${plan.excluded.length} left out${secured.length ? ` (secured without read privilege: ${secured.join(', ')})` : ''}`;
  if (plan.unknown.length > 0) {
    add({ name: `fields ${name}`, status: 'fail', detail: `selected but not in the CRM: ${plan.unknown.join(', ')}`, hint: hint(loaded, 'unknownFields', { entity: name }) });
  } else if (entity.direction === 'both' && plan.pushable.length === 0) {
    add({ name: `fields ${name}`, status: 'warn', detail: `${detail}; nothing can be written back`, hint: hint(loaded, 'writePrivilege', { entity: name }) });
  } else {
    add({ name: `fields ${name}`, status: 'pass', detail, ...(secured.length ? { hint: hint(loaded, 'securedFields') } : {}) });
  }
}
