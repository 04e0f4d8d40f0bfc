import { parseArgs } from 'node:util';
import { createEntityRegistry, isSyncError, planFields } from '@crm-sync/core';
import type { EntityDefinition } from '@crm-sync/core';
import { commonOptions, prepare } from '../cli/prepare.js';
import type { Prepared } from '../cli/prepare.js';
import { EXIT, writeJson } from '../cli/io.js';
import type { CliIo } from '../cli/io.js';
import { connectCrm } from '../wiring/crm.js';
import type { CrmConnection } from '../wiring/crm.js';
import { describeStore } from '../wiring/store.js';
import { HINTS } from './doctor-hints.js';

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
  const prepared = prepare(io, values);
  const steps: DoctorStep[] = [];
  const add = (step: DoctorStep) => {
    steps.push(step);
    if (!values.json) io.stdout.write(formatStep(step, prepared));
  };
  const { config } = prepared.loaded;
  add({
    name: 'config',
    status: 'pass',
    detail: `${prepared.loaded.file ?? (prepared.loaded.demo ? 'demo defaults' : 'environment')}: ${config.crm.kind === 'dynamics' ? `Dynamics ${config.crm.environmentUrl}` : `simulator ${config.crm.url ?? '(in this process)'}`}, store ${describeStore(config.store)}`,
  });
  add(await storeStep(prepared));
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

async function storeStep({ loaded }: Prepared): Promise<DoctorStep> {
  const store = loaded.config.store;
  if (store.kind === 'memory') return { name: 'store', status: 'pass', detail: 'memory store (in this process, nothing to reach)' };
  const { default: pg } = await import('pg');
  const { migrations } = await import('@crm-sync/postgres-store');
  const pool = new pg.Pool({ connectionString: loaded.secrets.databaseUrl, max: 1, connectionTimeoutMillis: 10_000 });
  try {
    await pool.query('select 1');
    const exists = await pool.query<{ t: string | null }>('select to_regclass($1) as t', [`${store.schema}.schema_migrations`]);
    const applied = exists.rows[0]?.t
      ? new Set((await pool.query<{ version: number }>(`select version from "${store.schema}".schema_migrations`)).rows.map((r) => r.version))
      : new Set<number>();
    const pending = migrations.filter((m) => !applied.has(m.version));
    if (pending.length > 0) {
      return { name: 'store', status: 'warn', detail: `PostgreSQL reachable; ${pending.length} migration(s) pending in schema ${store.schema}`, hint: HINTS.migrations };
    }
    return { name: 'store', status: 'pass', detail: `PostgreSQL reachable; schema ${store.schema} up to date` };
  } catch (error) {
    return { name: 'store', status: 'fail', detail: `PostgreSQL not reachable: ${message(error)}`, hint: HINTS.store };
  } finally {
    await pool.end().catch(() => undefined);
  }
}

async function crmSteps({ loaded }: Prepared, add: (step: DoctorStep) => void): Promise<void> {
  const { config } = loaded;
  let tokenSeen = false;
  let crm: CrmConnection;
  try {
    crm = await connectCrm(config, loaded.secrets, {
      pageSize: 10,
      retry: { maxAttempts: 2, budgetMs: 20_000, requestTimeoutMs: 20_000 },
      onAdapterEvent: (event) => {
        if (event.type === 'token') tokenSeen = true;
      },
    });
  } catch (error) {
    add({ name: 'crm', status: 'fail', detail: message(error), hint: HINTS.reach });
    return;
  }
  try {
    const who = await crm.adapter.whoAmI().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const client = config.crm.kind === 'dynamics' || config.crm.clientId ? `client ${config.crm.clientId}` : `simulator sync user (${config.crm.auth})`;
    if (who.ok || tokenSeen) {
      add({ name: 'credentials', status: 'pass', detail: `token acquired for ${client}` });
    } else {
      add({ name: 'credentials', status: 'fail', detail: message(who.error), hint: credentialsHint(config, who.error) });
    }
    if (!who.ok) {
      // With a token, WhoAmI failing means the Web API refused the user, or could not be reached.
      const reach = isSyncError(who.error) && ['CRM_UNREACHABLE', 'CRM_UNAVAILABLE'].includes(who.error.code);
      add({ name: 'whoami', status: tokenSeen ? 'fail' : 'skip', detail: tokenSeen ? message(who.error) : 'needs credentials', ...(tokenSeen ? { hint: reach ? HINTS.reach : HINTS.applicationUser } : {}) });
      return;
    }
    add({ name: 'whoami', status: 'pass', detail: `user ${who.value.userId}${who.value.organizationId ? `, organization ${who.value.organizationId}` : ''}` });
    const registry = createEntityRegistry({ custom: config.sync.customEntities, syncFilterField: config.sync.syncFilterField });
    for (const entity of registry.all.filter((e) => config.sync.entities[e.name]?.enabled !== false)) {
      await entitySteps(crm, entity, config.sync.entities[entity.name]?.fields ?? 'all', add);
    }
  } finally {
    await crm.close().catch(() => undefined);
  }
}

/** What to check when no token could be had: the credentials (refused), or the way to the authority (no answer). */
function credentialsHint(config: Prepared['loaded']['config'], error: unknown): string {
  if (!isSyncError(error)) return HINTS.reach;
  if (error.code === 'CRM_AUTH_FAILED') return config.crm.kind === 'simulator' ? HINTS.simulatorCredentials : HINTS.credentials;
  const host = error.details.authorityHost;
  return error.details.step === 'token' && typeof host === 'string' ? HINTS.authority(host) : HINTS.reach;
}

async function entitySteps(crm: CrmConnection, entity: EntityDefinition, selection: readonly string[] | 'all', add: (step: DoctorStep) => void) {
  const name = entity.name;
  let schema;
  try {
    schema = await crm.adapter.describeEntity(entity, { fresh: true });
  } catch (error) {
    add({ name: `metadata ${name}`, status: 'fail', detail: message(error), hint: entity.custom ? HINTS.customEntity : HINTS.metadata });
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
    add({ name: `read ${name}`, status: 'fail', detail: message(error), hint: HINTS.readPrivilege(name) });
  }
  add(
    schema.changeTracking
      ? { name: `change tracking ${name}`, status: 'pass', detail: 'enabled' }
      : { name: `change tracking ${name}`, status: 'warn', detail: 'disabled: changes found by modifiedon, deletes only by periodic full reads', hint: HINTS.changeTracking(name) },
  );
  const plan = planFields(entity, schema, selection);
  const secured = plan.excluded.filter((e) => e.reason === 'secured-no-read-privilege').map((e) => e.field);
  const detail = `${plan.synced.length} synced, ${plan.pushable.length} pushed, ${plan.excluded.length} left out${secured.length ? ` (secured without read privilege: ${secured.join(', ')})` : ''}`;
  if (plan.unknown.length > 0) {
    add({ name: `fields ${name}`, status: 'fail', detail: `selected but not in the CRM: ${plan.unknown.join(', ')}`, hint: HINTS.unknownFields(name) });
  } else if (entity.direction === 'both' && plan.pushable.length === 0) {
    add({ name: `fields ${name}`, status: 'warn', detail: `${detail}; nothing can be written back`, hint: HINTS.writePrivilege(name) });
  } else {
    add({ name: `fields ${name}`, status: 'pass', detail, ...(secured.length ? { hint: HINTS.securedFields } : {}) });
  }
}
